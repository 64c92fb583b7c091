"""Finding secret material in the strings a snapshot keeps, and replacing it by fingerprints.

Every string driftcheck keeps passes through one :class:`Redactor`. It detects secrets

- by **shape**: token formats from detect-secrets' regex plugins (AWS, GitHub, GitLab, Slack,
  Stripe, SendGrid, npm, PyPI, JWT, private keys, PuTTY keys, Twilio, Telegram, Discord…),
  completed with those of gitleaks that detect-secrets lacks (Google API keys and OAuth tokens,
  Discord and Teams webhooks, service-account JSON keys);
- by **structure**: credentials in URLs (``scheme://user:<secret>@host``, a password may hold
  ``/``), secret query parameters (``?password=``, ``&token=``, ``sig=``), connection strings
  (``Password=…;``), assignments (``--api-key=…``, ``token: …``), a secret flag followed by its
  value in an argument list (``--password X``);
- by **name**: an environment variable, header, label or annotation whose name says it holds a
  secret (``DB_PASS``, ``MYSQL_PWD``, ``ADMIN_PW``, ``Authorization``, ``X-Api-Key``…) — unless
  its content is plainly not one (a boolean, a number, a duration, a host name, a URL without
  credentials), which is then compared in clear;
- by **entropy**: a long random-looking token (hex keys of 20 characters and more, single-case
  keys of 32 and more, mixed keys of high Shannon entropy).

Only the secret part of a structured value is replaced (``postgres://app:<redacted:…>@db/app``),
so the rest still compares; a whole secret becomes ``{"redacted": true, "fingerprint": …}``.
Fingerprints are keyed (see ``fingerprint``). Messages are scrubbed with :func:`scrub`, which
replaces the same material without fingerprinting it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from functools import cache
from typing import Any

from driftcheck.fingerprint import Fingerprinter

MARKER_PREFIX = "<redacted:"
_SENSITIVE_WORDS = (
    r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|PASS|PWD|PW|CREDENTIALS?|PRIVATE|SIGNATURE|"
    r"SALT|AUTH|AUTHORIZATION|BEARER|SESSION|COOKIE|DSN|CERT|APIKEY|WEBHOOK|SIG"
)
_SECRET_TOKENS = frozenset(_SENSITIVE_WORDS.replace("S?", "").split("|")) | {
    "CREDENTIALS",
    "SECRETKEY",
    "AUTHTOKEN",
    "ACCESSTOKEN",
    "PRIVATEKEY",
    "CLIENTSECRET",
    "DBPASSWORD",
}
_LONG_SECRET_WORDS = ("PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "APIKEY", "CREDENTIAL")
_NOT_PASSWORDS = frozenset({"BYPASS", "COMPASS", "SURPASS", "OVERPASS", "UNDERPASS"})
_NAME_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# Names that contain a secret-ish word but hold public identifiers.
_PUBLIC_NAME = re.compile(
    r"(KEY_ID|KEY_NAME|PUBLIC_KEY|KEYSPACE|TOKEN_URL|AUTH_URL|AUTH_URI|TOKEN_URI|KEY_RING|KMS_KEY|"
    r"SESSION_AFFINITY|PASS_THROUGH|SECRET_NAME|SECRET_ID|SECRET_VERSION|COOKIE_NAME|"
    r"_TTL|_TIMEOUT|_SECONDS|_MINUTES|_HOURS|_ENABLED|_DISABLED|_REQUIRED|_MODE|_ISSUER|"
    r"_AUDIENCE|_HEADER|_PATH|_FILE|_DIR)$",
    re.I,
)
_SECRET_FLAG = re.compile(
    r"^--?(?:[a-z0-9]+[-_])*(?:password|passwd|pass|pwd|token|secret|api[-_]?key|key|"
    r"credentials?|auth|private[-_]key|access[-_]key)$",
    re.I,
)
# Tokens whose shape gives them away (gitleaks rules missing from detect-secrets' plugins, and
# a JWT taken whole: the plugin's pattern stops before the signature).
_EXTRA_TOKENS = (
    r"eyJ[A-Za-z0-9_\-=]+\.eyJ[A-Za-z0-9_\-=]+\.[A-Za-z0-9_\-+/=]*",
    r"AIza[0-9A-Za-z_\-]{35}",  # Google API key
    r"ya29\.[0-9A-Za-z_\-]{20,}",  # Google OAuth access token
    r"1//0[0-9A-Za-z_\-]{20,}",  # Google OAuth refresh token
    r"(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{16,}",
    r"sk-(?:proj-)?[A-Za-z0-9_\-]{20,}",
    r"xox[a-z]-[0-9A-Za-z\-]{10,}",
    r"gh[pousr]_[A-Za-z0-9_]{30,}",
    r"github_pat_[A-Za-z0-9_]{30,}",
    r"npm_[A-Za-z0-9]{30,}",
    r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_\-]+",
    r"https://[A-Za-z0-9.\-]+\.webhook\.office\.com/[^\s\"']+",
    r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[^\s\"']+",
    r"-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z ]*PRIVATE KEY-----|$)",
    r"PuTTY-User-Key-File-[0-9]+:[\s\S]*",
)
# A whole value that starts like a known token is one, even when it is shorter than the format.
_TOKEN_PREFIXES = (
    "AKIA",
    "ASIA",
    "ABIA",
    "ACCA",
    "AIza",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxs-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
    "sk-",
    "SG.",
    "npm_",
    "pypi-",
    "eyJ",
    "ya29.",
    "1//0",
)
# Whole values that are secret material however they are spelt.
_WHOLE_SECRET = re.compile(
    r"\"private_key\"\s*:|\"type\"\s*:\s*\"service_account\"|PRIVATE KEY-----|PuTTY-User-Key-File"
)
_URL_CREDENTIALS = re.compile(
    r"(?P<head>[a-z][a-z0-9+.\-]*://[^:@/\s]*:)(?P<secret>[^@\s]+)(?=@)", re.I
)
_SECRET_PARAMETER = re.compile(
    rf"(?P<head>(?:^|[?&;,\s])-{{0,2}}(?:[A-Za-z0-9]+[_.\-])*(?:{_SENSITIVE_WORDS})"
    r"(?:[_.\-][A-Za-z0-9]+)*\s*[:=]\s*)"
    r"(?P<secret>\"[^\"]*\"|'[^']*'|[^\s&;,\"']+)",
    re.I,
)
_NPM_AUTH = re.compile(r"(?P<head>:_(?:authToken|password|auth)\s*=\s*)(?P<secret>\S+)")
_HEX = re.compile(r"^[0-9a-fA-F]{20,}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:[0-9]+)?$")
_PLAIN_WORDS = frozenset(
    {"true", "false", "yes", "no", "on", "off", "enabled", "disabled", "none", "null", ""}
)
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_DURATION = re.compile(r"^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)$")
_HASH_NAMES = re.compile(r"(SHA|COMMIT|DIGEST|REVISION|HASH|CHECKSUM|VERSION|BUILD)", re.I)
_ENTROPY_MIN_LENGTH = 20


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``."""
    if not value:
        return 0.0
    counts = Counter(value)
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in counts.values())


@cache
def _token_pattern() -> re.Pattern[str]:
    """One pattern for every token shape: detect-secrets' regex plugins plus the extras."""
    from detect_secrets.plugins import (
        artifactory,
        aws,
        azure_storage_key,
        discord,
        github_token,
        gitlab_token,
        jwt,
        mailchimp,
        npm,
        openai,
        pypi_token,
        sendgrid,
        slack,
        square_oauth,
        stripe,
        telegram_token,
        twilio,
    )

    plugins = (
        artifactory.ArtifactoryDetector,
        aws.AWSKeyDetector,
        azure_storage_key.AzureStorageKeyDetector,
        discord.DiscordBotTokenDetector,
        github_token.GitHubTokenDetector,
        gitlab_token.GitLabTokenDetector,
        jwt.JwtTokenDetector,
        mailchimp.MailchimpDetector,
        npm.NpmDetector,
        openai.OpenAIDetector,
        pypi_token.PypiTokenDetector,
        sendgrid.SendGridDetector,
        slack.SlackDetector,
        square_oauth.SquareOAuthDetector,
        stripe.StripeDetector,
        telegram_token.TelegramBotTokenDetector,
        twilio.TwilioKeyDetector,
    )
    patterns = [p.pattern for plugin in plugins for p in plugin.denylist]
    # Groups inside the plugins' patterns would shadow ours: make every one non-capturing.
    cleaned = [re.sub(r"\((?!\?)", "(?:", p) for p in [*_EXTRA_TOKENS, *patterns]]
    return re.compile("|".join(f"(?:{p})" for p in cleaned))


def _random_looking(value: str) -> bool:
    """A long token that looks like key material rather than a name, path or number."""
    if len(value) < _ENTROPY_MIN_LENGTH or len(value) > 4096:
        return False
    if any(ch.isspace() for ch in value) or MARKER_PREFIX in value:
        return False
    if _HEX.match(value):
        return True
    if _HOSTNAME.match(value) or value.startswith(("http", "projects/", "/")):
        return False
    # Paths, URLs, slugs and dotted names are long but structured; they are not keys.
    if value.count("/") >= 2 or value.count(".") >= 3 or value.count("-") >= 3:
        return False
    if not re.fullmatch(r"[A-Za-z0-9+/=_.\-]+", value):
        return False
    classes = sum(
        (
            any(ch.islower() for ch in value),
            any(ch.isupper() for ch in value),
            any(ch.isdigit() for ch in value),
        )
    )
    entropy = shannon_entropy(value)
    if len(value) >= 32 and entropy >= 3.5:
        return True  # single-case keys too
    return classes >= 2 and entropy >= 4.0


def plainly_not_secret(value: str) -> bool:
    """Content that no secret has: a boolean, a number, a duration, a host, a clean URL."""
    text = value.strip()
    if text.lower() in _PLAIN_WORDS or _NUMBER.match(text) or _DURATION.match(text):
        return True
    if _HOSTNAME.match(text) and not _random_looking(text.split(".", 1)[0]):
        return True
    if re.match(r"^[a-z][a-z0-9+.\-]*://", text, re.I):
        return not _URL_CREDENTIALS.search(text) and not _SECRET_PARAMETER.search(text)
    return False


def secret_name(name: str) -> bool:
    """Whether a variable, header, label or flag named ``name`` holds a secret: one of its
    tokens (``DB_PASS``, ``MYSQL_PWD``, ``X-Api-Key``, ``apiKey``) is a secret word."""
    if _PUBLIC_NAME.search(name):
        return False
    tokens = {token.upper() for token in _NAME_TOKEN.findall(name)}
    if tokens & _SECRET_TOKENS:
        return True
    # Words run together (PGPASSWORD, JWTSECRET, MYSQLPWD): long secret words anywhere in a
    # token, short ones at its end.
    return any(
        any(word in token for word in _LONG_SECRET_WORDS)
        or (token.endswith(("PASS", "PWD")) and token not in _NOT_PASSWORDS)
        for token in tokens
    )


def _spans(value: str) -> list[tuple[int, int]]:
    """Where the secret parts of ``value`` are (sorted, not overlapping)."""
    found = [match.span() for match in _token_pattern().finditer(value)]
    for pattern in (_URL_CREDENTIALS, _SECRET_PARAMETER, _NPM_AUTH):
        for match in pattern.finditer(value):
            secret = match.group("secret")
            if not plainly_not_secret(secret.strip("\"'")):
                found.append(match.span("secret"))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def looks_secret(name: str, value: str) -> bool:
    """True when a value named ``name`` must not be written in clear (any part of it)."""
    if not value:
        return False
    if secret_name(name) and not plainly_not_secret(value):
        return True
    return _whole(name, value) or bool(_spans(value))


def _whole(name: str, value: str) -> bool:
    if _WHOLE_SECRET.search(value):
        return True
    if (
        value.startswith(_TOKEN_PREFIXES)
        and len(value) >= 8
        and not any(c.isspace() for c in value)
    ):
        return True
    if _HEX.match(value) and len(value) in (40, 64) and _HASH_NAMES.search(name):
        return False  # a commit or a digest, named as such
    return _random_looking(value)


class Redactor:
    """Replaces secret material by keyed fingerprints (or, for messages, by a mark)."""

    def __init__(self, fingerprints: Fingerprinter | None) -> None:
        self._fingerprints = fingerprints

    def _mark(self, secret: str) -> str:
        if self._fingerprints is None:
            return "<redacted>"
        return f"{MARKER_PREFIX}{self._fingerprints.fingerprint(secret)}>"

    def _whole_value(self, value: str) -> Any:
        if self._fingerprints is None:
            return "<redacted>"
        return self._fingerprints.redacted(value)

    def text(self, value: str, name: str = "") -> Any:
        """``value`` with its secret parts replaced; a wholly secret value becomes redacted."""
        if not value or MARKER_PREFIX in value:
            return value
        if (name and secret_name(name) and not plainly_not_secret(value)) or _whole(name, value):
            return self._whole_value(value)
        spans = _spans(value)
        if not spans:
            return value
        if spans == [(0, len(value))]:
            return self._whole_value(value)
        parts: list[str] = []
        last = 0
        for start, end in spans:
            parts += [value[last:start], self._mark(value[start:end])]
            last = end
        parts.append(value[last:])
        return "".join(parts)

    def arguments(self, items: list[Any]) -> list[Any]:
        """An argument list: each item redacted, and the value after a secret flag too."""
        result: list[Any] = []
        secret_next = False
        for item in items:
            if not isinstance(item, str):
                result.append(item)
                secret_next = False
                continue
            if secret_next and not item.startswith("-"):
                result.append(self._whole_value(item))
            else:
                result.append(self.text(item))
            secret_next = bool(_SECRET_FLAG.match(item))
        return result


def scrub(text: str) -> str:
    """A message with every secret-looking part replaced by ``<redacted>``."""
    redacted = Redactor(None).text(text)
    if not isinstance(redacted, str):
        return "<redacted>"
    # Words of a message are checked one by one: a token is one word among others there.
    words = re.split(r"(\s+)", redacted)
    return "".join(
        "<redacted>" if word.strip() and _whole("", word.strip("\"'.,;:()[]{}")) else word
        for word in words
    )


Redact = Callable[[str, str], Any]
