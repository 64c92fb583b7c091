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
import threading
from collections import Counter
from typing import Any

from driftcheck.fingerprint import Fingerprinter

MARKER_PREFIX = "<redacted:"
# A name holds a secret when its last word is one of these nouns (DB_PASSWORD, X-Api-Key,
# SESSION_SECRET), or ends with one run together (PGPASSWORD, JWTSECRET); a secret word used as
# a qualifier (AUTH_METHOD, TOKEN_ALGORITHM, CACHE_KEY_PREFIX) does not make one.
_SECRET_NOUNS = frozenset(
    {
        "PASSWORD",
        "PASSWD",
        "PASSPHRASE",
        "PASSCODE",
        "PASS",
        "PWD",
        "PW",
        "SECRET",
        "TOKEN",
        "KEY",
        "APIKEY",
        "CREDENTIAL",
        "CREDENTIALS",
        "CREDS",
        "DSN",
        "SALT",
        "SIGNATURE",
        "HMAC",
        "COOKIE",
        "BEARER",
        "AUTH",
        "PIN",
    }
)
_RUN_TOGETHER = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "PWD", "PASS")
_NOT_PASSWORDS = frozenset({"BYPASS", "COMPASS", "SURPASS", "OVERPASS", "UNDERPASS"})
# A secret noun followed by one of these still names the secret (SECRET_KEY_BASE, API_KEY_VALUE).
_SECRET_TAILS = frozenset({"BASE", "VALUE", "DATA", "STRING", "B64", "BASE64", "RAW"})
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_NAME_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
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
    r"GOCSPX-[0-9A-Za-z_\-]{20,}",  # Google OAuth client secret
    r"(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{16,}",
    r"sk-(?:proj-)?[A-Za-z0-9_\-]{20,}",
    r"xox[a-z]-[0-9A-Za-z\-]{10,}",
    r"xapp-[0-9]-[A-Z0-9]+-[0-9]+-[a-z0-9]+",  # Slack app token
    r"gh[pousr]_[A-Za-z0-9_]{30,}",
    r"github_pat_[A-Za-z0-9_]{30,}",
    r"npm_[A-Za-z0-9]{30,}",
    r"hf_[A-Za-z]{30,}",  # Hugging Face
    r"dop_v1_[a-f0-9]{64}",  # DigitalOcean
    r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}",  # Shopify
    r"key-[0-9a-z]{32}",  # Mailgun
    r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_\-]+",
    r"https://[A-Za-z0-9.\-]+\.webhook\.office\.com/[^\s\"']+",
    r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[^\s\"']+",
    r"(?:Bearer|Basic|Digest)\s+[A-Za-z0-9._~+/\-]{8,}=*",  # an Authorization value
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
    r"\"private_key\"\s*:|\"type\"\s*:\s*\"(?:service_account|authorized_user)\"|"
    r"PRIVATE KEY|PuTTY-User-Key-File|\"client_secret\"\s*:|\"refresh_token\"\s*:"
)
# Candidates checked in Python (linear expressions: a value may be 32 KB of anything).
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]{0,20})://")
# After "scheme://": user and password (a password may hold "/"), or a lone user (a token).
_URL_PASSWORD = re.compile(r"[^:/\s@]{0,256}:(?P<secret>[^\s@]{1,512})@")
_URL_USER = re.compile(r"(?P<secret>[^:/\s@]{1,512})@")
# A lookahead, so that assignments inside another one's value are found too ("a: b=c").
_ASSIGNMENT = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?=(?P<key>[A-Za-z0-9_.\-]{1,64})(?P<sep>\s*=\s*|:\s+)"
    r"(?P<secret>\"[^\"]{0,512}\"|'[^']{0,512}'|[^\s&;,\"'}]{1,512}))"
)
_QUOTED_ASSIGNMENT = re.compile(
    r"[\"'](?P<key>[A-Za-z0-9_.\-]{1,64})[\"']\s*:\s*[\"'](?P<secret>[^\"']{0,512})[\"']"
)
_HEX = re.compile(r"^[0-9a-fA-F]{20,}$")
_HOSTNAME = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}(:[0-9]+)?$")
_PLAIN_WORDS = frozenset(
    {"true", "false", "yes", "no", "on", "off", "enabled", "disabled", "none", "null", ""}
)
_SHORT_NUMBER = re.compile(r"^-?[0-9]{1,4}(\.[0-9]+)?$")
_DURATION = re.compile(r"^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)$")
_HASH_NAMES = re.compile(
    r"(SHA|COMMIT|DIGEST|REVISION|HASH|CHECKSUM|VERSION|BUILD|RELEASE|UUID|_ID$|ID$)", re.I
)
_ENTROPY_MIN_LENGTH = 20


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``."""
    if not value:
        return 0.0
    counts = Counter(value)
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in counts.values())


_PATTERN_LOCK = threading.Lock()
_PATTERN: list[re.Pattern[str]] = []


def _token_pattern() -> re.Pattern[str]:
    """One pattern for every token shape, built once per process: the first normalizations
    start on many threads at once, and each building it (0.1 s of CPU) held the others up."""
    if not _PATTERN:
        with _PATTERN_LOCK:
            if not _PATTERN:
                _PATTERN.append(_build_token_pattern())
    return _PATTERN[0]


def _build_token_pattern() -> re.Pattern[str]:
    """detect-secrets' regex plugins plus the extras, as one pattern."""
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


_BASE64ISH = re.compile(r"[A-Za-z0-9+/_\-]+={0,2}")
_SINGLE_CASE = re.compile(r"[a-z0-9]+|[A-Z0-9]+")


def _random_looking(value: str) -> bool:
    """A long token that looks like key material rather than a name, path or setting (after
    detect-secrets' high-entropy plugins: hex strings, base64 strings of high entropy)."""
    if len(value) < _ENTROPY_MIN_LENGTH or len(value) > 4096:
        return False
    if _HEX.match(value):
        return True
    if not _BASE64ISH.fullmatch(value) or value.startswith(("/", "-")):
        return False
    if value.count("/") >= 2 or value.count("-") >= 3 or value.count("_") >= 3:
        return False  # paths and slugs: long but structured
    entropy = shannon_entropy(value)
    if len(value) >= 32 and _SINGLE_CASE.fullmatch(value) and entropy >= 3.5:
        return True
    return entropy >= 4.5 if len(value) < 32 else entropy >= 4.2


def plainly_not_secret(value: str) -> bool:
    """Content that no secret has: a boolean, a small number, a duration, a host, a clean URL,
    a resource or file path."""
    text = value.strip()
    if text.lower() in _PLAIN_WORDS or _SHORT_NUMBER.match(text) or _DURATION.match(text):
        return True
    if _HOSTNAME.match(text):
        return True
    if text.startswith(("projects/", "/")) and " " not in text and not _spans(text):
        return True
    if re.match(r"^[a-z][a-z0-9+.\-]*://", text, re.I):
        return not _spans(text)
    return False


def _words(name: str) -> list[str]:
    return [token.upper() for token in _NAME_TOKEN.findall(name)]


def secret_name(name: str) -> bool:
    """Whether a variable, header, label, flag or key named ``name`` holds a secret."""
    if name.lower() in _SECRET_HEADERS:
        return True
    words = _words(name)
    while len(words) > 1 and words[-1] in _SECRET_TAILS:
        words.pop()
    if not words:
        return False
    last = words[-1]
    if last in _SECRET_NOUNS:
        return True
    return last.endswith(_RUN_TOGETHER) and last not in _NOT_PASSWORDS


def _secret_value(name: str, value: str) -> bool:
    """A value assigned to ``name`` inside a string (``--api-key=…``, ``"password": "…"``)."""
    stripped = value.strip("\"'")
    return bool(stripped) and secret_name(name) and not plainly_not_secret(stripped)


def _spans(value: str) -> list[tuple[int, int]]:
    """Where the secret parts of ``value`` are (sorted, not overlapping)."""
    found = [match.span() for match in _token_pattern().finditer(value)]
    if "://" in value:
        for scheme in _URL_SCHEME.finditer(value):
            credentials = _URL_PASSWORD.match(value, scheme.end())
            if credentials is not None:
                found.append(credentials.span("secret"))
            elif scheme.group(1).lower() in ("http", "https", "git"):
                user = _URL_USER.match(value, scheme.end())
                if user is not None:
                    found.append(user.span("secret"))  # a token as the user of a web URL
    if "=" in value or ":" in value:
        for pattern in (_ASSIGNMENT, _QUOTED_ASSIGNMENT):
            for match in pattern.finditer(value):
                key = match.group("key").lstrip("-_:")
                if _secret_value(key, match.group("secret")):
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
    if _HEX.match(value) and _HASH_NAMES.search(name):
        return False  # a commit, a digest, a release or an id, named as such
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
