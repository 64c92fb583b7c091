"""driftcheck.yaml: the models, and loading them with errors that name file, line and key."""

from __future__ import annotations

import difflib
import hashlib
import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from driftcheck.errors import ConfigError, InputError
from driftcheck.model import EnvironmentName, Severity
from driftcheck.yamlio import YamlDocument, load_yaml

CONFIG_ENV_VAR = "DRIFTCHECK_CONFIG"
DEFAULT_CONFIG = Path("driftcheck.yaml")


class StrictModel(BaseModel):
    """Config models: immutable; an unknown key is an error (a typo must not disable a check)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretSpec(StrictModel):
    """A secret to read in an environment, beyond those that services reference."""

    name: str = Field(
        min_length=1,
        pattern=r"^(projects/[a-z0-9-]+/secrets/)?[A-Za-z0-9_-]+$",
        description="A secret of the environment's project, or projects/<p>/secrets/<name>",
    )
    expect_env: str | None = Field(
        default=None,
        description="Variable of driftcheck's own environment holding the value "
        "a consumer (such as the E2E suite) uses; compared by fingerprint with the live version",
    )
    same_across_envs: bool = Field(
        default=False, description="Compare fingerprints across environments (shared secrets)"
    )


def check_fetch_url(url: str) -> str:
    """Policy and OIDC documents are fetched over HTTPS; plain HTTP only on loopback (tests)."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise ValueError("URL has an invalid port") from None
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme == "https" or (parts.scheme == "http" and loopback):
        if not parts.hostname:
            raise ValueError("URL has no host")
        return url
    raise ValueError("must use TLS (https:// or wss://); http:// and ws:// only on 127.0.0.1")


def display_url(url: str) -> str:
    """A URL fit for messages: user info, query and fragment (where credentials hide) removed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ":<invalid port>"
    redacted = "?…" if parts.query else ""
    return f"{parts.scheme}://{host}{port}{parts.path}{redacted}"


class FileSource(StrictModel):
    """A policy document in a file, relative to driftcheck.yaml."""

    file: Path


class SecretSource(StrictModel):
    """A policy document held in a Secret Manager secret (its latest enabled version)."""

    secret: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")


class UrlSource(StrictModel):
    """A policy document served over HTTPS (JSON or YAML)."""

    url: str

    @field_validator("url")
    @classmethod
    def _https_only(cls, value: str) -> str:
        return check_fetch_url(value)


class ServiceEnvRef(StrictModel):
    """A policy held in a Cloud Run service's env var: a document, or a permission list."""

    service: str
    var: str
    capability: str = Field(
        default="default", description="Capability a plain permission list is required for"
    )


class ServiceEnvSource(StrictModel):
    """The policy comes from a collected service's environment variable."""

    service_env: ServiceEnvRef


_SOURCE_KINDS: dict[str, type[BaseModel]] = {
    "file": FileSource,
    "secret": SecretSource,
    "url": UrlSource,
    "service_env": ServiceEnvSource,
}


def policy_source_kind(value: Any) -> str | None:
    """Which policy source a raw mapping or a validated source model is."""
    if isinstance(value, dict):
        return next((kind for kind in _SOURCE_KINDS if kind in value), None)
    return next((kind for kind, model in _SOURCE_KINDS.items() if isinstance(value, model)), None)


PolicySource = Annotated[
    Annotated[FileSource, Tag("file")]
    | Annotated[SecretSource, Tag("secret")]
    | Annotated[UrlSource, Tag("url")]
    | Annotated[ServiceEnvSource, Tag("service_env")],
    Discriminator(
        policy_source_kind,
        custom_error_type="policy_source",
        custom_error_message="policy needs one of: file, secret, url, service_env",
    ),
]


class TokenSpec(StrictModel):
    """A token that a pipeline uses, checked against the environment's policy."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    env: str = Field(min_length=1, description="Variable of driftcheck's environment holding it")
    capabilities: list[str] = Field(default_factory=list)


class AuthConfig(StrictModel):
    """The auth claim policy an environment enforces, and the tokens used against it."""

    name: str = Field(default="auth", pattern=r"^[A-Za-z0-9_.-]+$")
    policy: PolicySource | None = None
    oidc: str | None = Field(default=None, description="Issuer URL: discovery document + JWKS")
    tokens: list[TokenSpec] = Field(default_factory=list)

    @field_validator("oidc")
    @classmethod
    def _https_only(cls, value: str | None) -> str | None:
        return None if value is None else check_fetch_url(value)


class ProbeSpec(StrictModel):
    """A live behaviour probe: a WebSocket handshake or an HTTP health endpoint."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    websocket: str | None = Field(default=None, description="wss:// URL (ws:// on loopback)")
    http: str | None = Field(default=None, description="https:// URL (http:// on loopback)")
    subprotocols: list[str] = Field(default_factory=list, description="Offered; one must be chosen")
    token_env: str | None = Field(default=None, description="Variable holding a token to send")
    token_mode: Literal["subprotocol", "bearer"] = Field(
        default="subprotocol", description='Send the token as subprotocol "jwt.<token>" or header'
    )
    expect_messages: list[str] = Field(default_factory=list, description="First message types")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    expect_status: int = Field(default=200, ge=100, le=599)
    fields: list[str] = Field(default_factory=list, description="Dotted JSON fields to record")
    max_latency_ms: float | None = Field(default=None, gt=0)

    @field_validator("websocket", "http")
    @classmethod
    def _secure_or_loopback(cls, value: str | None) -> str | None:
        if value is None:
            return None
        secure = value.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
        check_fetch_url(secure)
        return value

    @model_validator(mode="after")
    def _one_target(self) -> ProbeSpec:
        if (self.websocket is None) == (self.http is None):
            raise ValueError("a probe needs exactly one of websocket or http")
        return self


# Env vars that name a dependency by default (see ``DependenciesConfig.references``).
DEFAULT_REFERENCES: dict[str, Literal["redis", "sql"]] = {
    "REDIS_HOST": "redis",
    "REDIS_URL": "redis",
    "DATABASE_URL": "sql",
    "DB_HOST": "sql",
    "POSTGRES_HOST": "sql",
    "INSTANCE_CONNECTION_NAME": "sql",
    "CLOUD_SQL_CONNECTION_NAME": "sql",
}
EnvVarName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class DependenciesConfig(StrictModel):
    """What is read behind the VPC (connectors, Memorystore Redis, Cloud SQL) and how services
    name it. An environment without this section reads none of them."""

    connectors: list[str] = Field(
        default_factory=list,
        description="Connectors to read beyond those that collected services use",
    )
    redis: list[str] | None = Field(
        default=None, description="Redis instances to read; omitted means all in the regions"
    )
    sql: list[str] | None = Field(
        default=None, description="Cloud SQL instances to read; omitted means all in the regions"
    )
    references: dict[EnvVarName, Literal["redis", "sql"]] = Field(
        default_factory=lambda: dict(DEFAULT_REFERENCES),
        description="Env vars whose value names a dependency (host, host:port, URL or Cloud SQL "
        "connection name), and which kind; replaces the defaults when given",
    )
    pool_size_env: EnvVarName = Field(
        default="DB_POOL_SIZE",
        description="Env var holding a service's database connection pool size (per instance)",
    )


REGION_PATTERN = r"^[a-z]+(-[a-z]+)+[0-9]+$"
Region = Annotated[str, Field(pattern=REGION_PATTERN)]
RegionAlias = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
RegionsSetting = Literal["all"] | list[str] | dict[str, str]


class Environment(StrictModel):
    """One environment: a GCP project and the regions and services to read there."""

    project: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9-]{4,61}[a-z0-9]$")
    project_number: str | None = Field(default=None, pattern=r"^[0-9]+$")
    regions: Literal["all"] | list[Region] | dict[RegionAlias, Region] = Field(
        default="all",
        min_length=1,
        description="Regions to read: all (the default: every Cloud Run region of the project, "
        "listed at run time), a list, or a map of aliases ({primary: us-central1}); "
        "resources are keyed by alias, so environments in different regions compare",
    )
    # The regions ``all`` stood for in this run, once listed (see ``with_regions``).
    _discovered: list[str] | None = PrivateAttr(default=None)
    services: list[str] | None = Field(
        default=None,
        description="Services to read (real or neutral names); omitted means every service",
    )
    secrets: list[SecretSpec] = Field(default_factory=list)
    name_map: dict[str, str] = Field(
        default_factory=dict,
        description="Environment-specific tokens replaced by neutral ones in names and values, "
        "matched as whole tokens, e.g. {prod: ${env}}",
    )
    auth: AuthConfig | None = None
    probes: list[ProbeSpec] = Field(default_factory=list)
    dependencies: DependenciesConfig | None = None

    @field_validator("secrets", mode="before")
    @classmethod
    def _secret_names_to_specs(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("regions")
    @classmethod
    def _distinct_regions(cls, value: RegionsSetting) -> RegionsSetting:
        if value == "all":
            return value
        listed = list(value.values()) if isinstance(value, dict) else list(value)
        repeated = sorted({region for region in listed if listed.count(region) > 1})
        if repeated:
            raise ValueError(f"region listed twice: {', '.join(repeated)}")
        return value

    @field_validator("name_map")
    @classmethod
    def _tokens_only(cls, value: dict[str, str]) -> dict[str, str]:
        for literal in value:
            if not any(ch.isalnum() for ch in literal):
                raise ValueError(f"name_map key {literal!r} has no letter or digit to match")
        return value

    @property
    def region_map(self) -> dict[str, str]:
        """Region alias -> region (the alias is the region itself when regions is a list; for
        ``all``, the regions listed in this run, none before)."""
        if isinstance(self.regions, dict):
            return dict(self.regions)
        if self.regions == "all":
            return {region: region for region in self._discovered or []}
        return {region: region for region in self.regions}

    @property
    def discovers_regions(self) -> bool:
        """Whether the regions are the project's Cloud Run regions, listed at run time."""
        return self.regions == "all"

    def with_regions(self, regions: list[str]) -> Environment:
        """This environment with the regions ``all`` stands for in this run."""
        copy = self.model_copy()
        copy._discovered = sorted(regions)
        return copy


class IgnoreRule(StrictModel):
    """Differences that are legitimate, declared once with a reason."""

    resource: str = "*"
    path: str = "*"
    reason: str = Field(min_length=1)


class SeverityRule(StrictModel):
    """Overrides the built-in severity for matching findings."""

    resource: str = "*"
    path: str = "*"
    severity: Severity


class SuppressRule(StrictModel):
    """An accepted risk: a finding silenced until ``expires``, with an owner and a reason."""

    id: str | None = None
    resource: str | None = None
    path: str | None = None
    accepted: Any = Field(
        description="The value this suppression accepts (the finding's actual value, or its "
        "fingerprint); when the value changes again the finding is active again"
    )
    reason: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    expires: date

    @model_validator(mode="after")
    def _names_what_it_suppresses(self) -> SuppressRule:
        if self.id is None and self.resource is None and self.path is None:
            raise ValueError("a suppression needs an id, or a resource and path, to match")
        return self


class Rules(StrictModel):
    """User rules applied after the built-in severity catalogue."""

    ignore: list[IgnoreRule] = Field(default_factory=list)
    severity: list[SeverityRule] = Field(default_factory=list)
    suppress: list[SuppressRule] = Field(default_factory=list)


class RateLimitSettings(StrictModel):
    """Calls per minute, per API and project (and region for Cloud Run), below the quotas."""

    run: float = Field(default=480, gt=0, description="Cloud Run Admin reads (quota ~600/min)")
    secretmanager: float = Field(default=480, gt=0, description="metadata reads (quota ~600/min)")
    secretmanager_access: float = Field(
        default=72000, gt=0, description="payload accesses (quota ~90,000/min)"
    )
    vpcaccess: float = Field(default=240, gt=0, description="Serverless VPC Access reads")
    redis: float = Field(default=240, gt=0, description="Memorystore for Redis reads")
    sqladmin: float = Field(default=120, gt=0, description="Cloud SQL Admin reads (per project)")


class ApiSettings(StrictModel):
    """Per-call timeout, bounded retry time, concurrency and rate limits for API calls."""

    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    retry_seconds: float = Field(
        default=120.0, ge=0, le=3600, description="Total time spent retrying transient errors"
    )
    concurrency: int = Field(default=16, ge=1, le=256, description="API calls in flight at once")
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)


class Config(StrictModel):
    """The whole of driftcheck.yaml."""

    version: Literal[1]
    baselines_dir: Path = Path("baselines")
    reports_dir: Path = Path("reports")
    environments: dict[EnvironmentName, Environment] = Field(min_length=1)
    rules: Rules = Field(default_factory=Rules)
    api: ApiSettings = Field(default_factory=ApiSettings)


class LoadedConfig:
    """A validated config with paths resolved against the config file's folder."""

    def __init__(self, config: Config, path: Path, sha256: str) -> None:
        self.model = config
        self.path = path
        self.sha256 = sha256
        base = path.parent
        self.baselines_dir = base / config.baselines_dir
        self.reports_dir = base / config.reports_dir

    def environment(self, name: str) -> Environment:
        """The named environment, or a ConfigError listing the known ones."""
        try:
            return self.model.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.model.environments))
            raise ConfigError(
                f"{self.path}: unknown environment {name!r} (known: {known})"
            ) from None

    def resolve(self, path: Path) -> Path:
        """A path from the config, relative to the config file's folder."""
        return path if path.is_absolute() else self.path.parent / path

    def baseline_path(self, env_name: str) -> Path:
        """Where the approved baseline of ``env_name`` lives."""
        return self.baselines_dir / f"{env_name}.yaml"


def resolve_config_path(option: str | None) -> Path:
    """--config, else $DRIFTCHECK_CONFIG, else ./driftcheck.yaml."""
    if option:
        return Path(option)
    from_env = os.environ.get(CONFIG_ENV_VAR)
    return Path(from_env) if from_env else DEFAULT_CONFIG


def load_config(path: Path) -> LoadedConfig:
    """Read and validate driftcheck.yaml; every error names file, line and key."""
    try:
        document = load_yaml(path, "config file")
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(document.data, dict):
        raise ConfigError(f"{path}:1: config must be a mapping with 'version: 1' at the top")
    try:
        config = Config.model_validate(document.data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, document, Config)) from None
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return LoadedConfig(config, path, sha256)


def describe_validation_error(
    exc: ValidationError, document: YamlDocument, model: type[BaseModel]
) -> str:
    """One line for the first validation error: ``file:line: key.path: what is wrong``."""
    # A misspelt key shows up as unknown *and* as a missing one; the unknown one says more. A
    # field that takes two shapes (a list or a map) fails once per shape: the error inside the
    # shape the user wrote says more than "not a list".
    # A field that is a word or a structure (``regions: all`` or a list): when the user wrote
    # the structure, the error inside it says more than "should be 'all'".
    found = exc.errors()
    deeper = [_user_loc(e["loc"]) for e in found]

    def written_otherwise(error: Any) -> bool:
        loc = _user_loc(error["loc"])
        return error["type"] in _SHAPE_ERRORS | {"literal_error"} and any(
            len(other) > len(loc) and other[: len(loc)] == loc for other in deeper
        )

    errors = sorted(
        found,
        key=lambda e: (
            e["type"] != "extra_forbidden",
            e["type"] in _SHAPE_ERRORS or written_otherwise(e),
        ),
    )
    error = errors[0]
    loc = _user_loc(error["loc"])
    dotted = ".".join(str(part) for part in loc) or "<top level>"
    where = document.where(loc)
    if error["type"] == "extra_forbidden":
        unknown = str(loc[-1])
        hint = _suggest(unknown, _allowed_keys(model, loc[:-1]))
        return f"{where}: {dotted}: unknown key {unknown!r}{hint}"
    if error["type"] == "missing":
        return f"{where}: {dotted}: required key is missing"
    shapes = {e["type"] for e in errors if _user_loc(e["loc"]) == loc} & _SHAPE_ERRORS
    message = error["msg"]
    if error["type"] in _SHAPE_ERRORS and len(shapes) > 1:
        message = "Input should be a list or a mapping"
    elif error["type"] == "literal_error" and len(shapes) > 1:
        message = f"{message}, a list or a mapping"  # regions: all, [regions] or {alias: region}
    locs = {_user_loc(e["loc"]) for e in errors}
    # A shape that was not written is no error of its own when the written one has one inside.
    locs -= {
        _user_loc(e["loc"])
        for e in errors
        if e["type"] in _SHAPE_ERRORS
        and any(
            other[: len(_user_loc(e["loc"]))] == _user_loc(e["loc"])
            and other != _user_loc(e["loc"])
            for other in locs
        )
    }
    extra = len(locs - {loc}) if loc in locs else len(locs)
    more = f" (and {extra} more error{'s' if extra > 1 else ''})" if extra else ""
    return f"{where}: {dotted}: {message}{more}"


_SHAPE_ERRORS = frozenset({"list_type", "dict_type"})


def _user_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """An error location as the user wrote it: without pydantic's validator and union tags."""
    return tuple(
        part
        for part in loc
        if not (isinstance(part, str) and (part.startswith("function-") or "[" in part))
    )


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found at ``loc`` (best effort, for did-you-mean hints)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = getattr(current, "model_fields", {}).get(str(part))
        if field is None:
            continue
        current = _model_in_annotation(field.annotation)
    return list(getattr(current, "model_fields", {}))


def _model_in_annotation(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in_annotation(arg)
        if found is not None:
            return found
    return None


def _suggest(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
