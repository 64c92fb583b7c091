"""Self-contained HTML report: inline CSS and JS under a hash-based Content-Security-Policy.

jinja2 autoescaping escapes every value; the CSP forbids any script or style but ours and any
request at all, so a hostile string in the data stays inert text.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from importlib import resources
from itertools import groupby
from typing import Any

from driftcheck.model import DriftReport, Finding, Severity


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@cache
def _asset(name: str) -> str:
    return resources.files("driftcheck.render").joinpath("templates", name).read_text("utf-8")


@cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("driftcheck.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = _pretty
    return env


def _pretty(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False)


def _grouped(findings: list[Finding]) -> list[tuple[str, list[Finding]]]:
    """Findings by resource; the resources with the most severe findings first."""
    ordered = sorted(findings, key=lambda f: (f.resource, -f.severity.rank, f.path))
    groups = [(res, list(group)) for res, group in groupby(ordered, key=lambda f: f.resource)]
    return sorted(groups, key=lambda group: (-group[1][0].severity.rank, group[0]))


def render(report: DriftReport) -> str:
    """The whole HTML page."""
    style, script = _asset("report.css"), _asset("report.js")
    csp = (
        "default-src 'none'; "
        f"style-src {_csp_hash(style)}; script-src {_csp_hash(script)}; "
        "img-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'"
    )
    active = [f for f in report.findings if f.active]
    set_aside = [f for f in report.findings if not f.active]
    return str(
        _environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            csp=csp,
            style=style,
            script=script,
            groups=_grouped(active),
            set_aside=set_aside,
            severities=[s.value for s in Severity],
            resources=sorted({f.resource for f in report.findings}),
        )
    )
