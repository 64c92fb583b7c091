"""Keyed fingerprints: the only form in which secret material ever leaves driftcheck.

A fingerprint is HMAC-SHA256 of the value under a key that is never written anywhere. It carries
a short key id (a hash of the key, not the key) so that fingerprints made under different keys are
recognised as incomparable instead of being reported as drift.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

from driftcheck.errors import UsageError

KEY_ENV_VAR = "DRIFTCHECK_FINGERPRINT_KEY"
MIN_KEY_LENGTH = 16
_FINGERPRINT_RE = re.compile(r"^hmac-sha256:k=(?P<key_id>[0-9a-f]{8}):(?P<digest>[0-9a-f]{64})$")


class Fingerprinter:
    """Turns values into ``hmac-sha256:k=<key id>:<hex digest>`` strings."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_LENGTH:
            raise UsageError(f"{KEY_ENV_VAR} must be at least {MIN_KEY_LENGTH} bytes long")
        self._key = key
        self.key_id = hashlib.sha256(b"driftcheck-key-id\x00" + key).hexdigest()[:8]

    def __repr__(self) -> str:
        return f"Fingerprinter(key_id={self.key_id!r})"

    def fingerprint(self, value: str | bytes) -> str:
        """Keyed fingerprint of ``value``; the value itself is not kept."""
        data = value.encode("utf-8") if isinstance(value, str) else value
        digest = hmac.new(self._key, data, hashlib.sha256).hexdigest()
        return f"hmac-sha256:k={self.key_id}:{digest}"

    def redacted(self, value: str | bytes) -> dict[str, object]:
        """The form a sensitive value takes in snapshots and reports."""
        return {"redacted": True, "fingerprint": self.fingerprint(value)}

    @classmethod
    def from_environment(cls) -> Fingerprinter:
        """Build from ``DRIFTCHECK_FINGERPRINT_KEY``; refuse to invent a key when unset."""
        key = os.environ.get(KEY_ENV_VAR, "")
        if not key:
            raise UsageError(
                f"{KEY_ENV_VAR} is not set: driftcheck needs a fingerprint key to compare "
                "secret values without revealing them (use the same key for every run)"
            )
        return cls(key.encode("utf-8"))


def fingerprint_key_id(fingerprint: str) -> str | None:
    """The key id inside a fingerprint string, or None if it is not one."""
    match = _FINGERPRINT_RE.match(fingerprint)
    return match.group("key_id") if match else None
