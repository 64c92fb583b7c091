"""Deciding whether a plain value looks like a secret (by its name or by its content)."""

from __future__ import annotations

import math
import re
from collections import Counter

_SECRET_NAME = re.compile(
    r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE|SIGNATURE|SALT|"
    r"AUTH|BEARER|SESSION|COOKIE|DSN|CERT)",
    re.IGNORECASE,
)
# Names that contain a secret-ish word but hold public identifiers.
_PUBLIC_NAME = re.compile(r"(_KEY_ID|_KEY_NAME|_PUBLIC_KEY|KEYSPACE|_TOKEN_URL|_AUTH_URL)$", re.I)
_SECRET_PREFIXES = (
    "AKIA",  # AWS access key id
    "ASIA",
    "AIza",  # Google API key
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "sk-",
    "SG.",
    "-----BEGIN",
    "eyJ",  # JWT / base64 JSON
    "ya29.",  # Google OAuth access token
    "1//",  # Google refresh token
)
_URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@", re.IGNORECASE)
_ENTROPY_MIN_LENGTH = 20
_ENTROPY_THRESHOLD = 4.0
_HEX_SECRET = re.compile(r"^[0-9a-fA-F]{32,}$")
_HOSTNAME = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``."""
    if not value:
        return 0.0
    counts = Counter(value)
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in counts.values())


def _high_entropy(value: str) -> bool:
    if len(value) < _ENTROPY_MIN_LENGTH or any(ch.isspace() for ch in value):
        return False
    if _HEX_SECRET.match(value):
        return True
    if _HOSTNAME.match(value):
        return False
    # Paths, URLs and dotted names are long but structured; they are not keys.
    if value.count("/") >= 2 or value.count(".") >= 3 or value.startswith(("http", "projects/")):
        return False
    classes = sum(
        (
            any(ch.islower() for ch in value),
            any(ch.isupper() for ch in value),
            any(ch.isdigit() for ch in value),
        )
    )
    return classes >= 2 and shannon_entropy(value) >= _ENTROPY_THRESHOLD


def looks_secret(name: str, value: str) -> bool:
    """True when an env var named ``name`` holding ``value`` must not be written in clear."""
    if not value:
        return False
    if _SECRET_NAME.search(name) and not _PUBLIC_NAME.search(name):
        return True
    if value.startswith(_SECRET_PREFIXES) or _URL_WITH_PASSWORD.match(value):
        return True
    return _high_entropy(value)
