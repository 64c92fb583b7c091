"""A probe's observation in canonical form: what the server answered, redacted and neutralized
like any other data, with the defects the probe found kept as recorded."""

from __future__ import annotations

from typing import Any

from driftcheck.identity import Neutralizer
from driftcheck.normalize import canonical, prune
from driftcheck.sensitive import Redactor


def normalize_probe(
    body: dict[str, Any], neutral: Neutralizer, redactor: Redactor
) -> dict[str, Any]:
    """The ``probe/<name>`` body."""
    # What a server answers is data like any other: secret-looking parts are redacted.
    result: dict[str, Any] = prune(canonical(body, neutral, redactor=redactor))
    result["defects"] = body.get("defects", {})
    return result
