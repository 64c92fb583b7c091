"""Auth claim policies: from a file, a secret, a URL or a service's env var; OIDC discovery and
JWKS over HTTPS with httpx; and the conformance of the tokens our pipelines use.

Keys are recorded by id and RFC 7638 thumbprint, never by private material; tokens only as a
fingerprint, their public claims and their defects.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from driftcheck.claims import PRIVATE_JWK_MEMBERS, ClaimPolicy, TokenCheck, jwk_thumbprint
from driftcheck.collectors.interface import (
    CollectionContext,
    CollectorResult,
    api_failures,
    failure_record,
    retry_policy,
)
from driftcheck.compare import is_redacted
from driftcheck.concurrency import start_bounded
from driftcheck.config import (
    ApiSettings,
    AuthConfig,
    Environment,
    FileSource,
    LoadedConfig,
    SecretSource,
    ServiceEnvSource,
    UrlSource,
    check_fetch_url,
    describe_validation_error,
    display_url,
    policy_source_kind,
)
from driftcheck.errors import ConfigError, InputError
from driftcheck.fingerprint import Fingerprinter
from driftcheck.identity import Neutralizer
from driftcheck.kinds.auth_policy.normalize import normalize_auth_policy
from driftcheck.kinds.interface import CollectRequest
from driftcheck.kinds.secret.collect import ACCESS_PERMISSION
from driftcheck.model import CollectionErrorRecord
from driftcheck.yamlio import parse_yaml

SOURCE = "auth-policy"
MAX_DOCUMENT_BYTES = 1024 * 1024


class PolicyUnavailable(Exception):
    """A policy, discovery document or JWKS could not be read; the message says why."""


class TransientStatus(Exception):
    """An HTTP answer worth retrying (429 or 5xx)."""


class HttpFetcher:
    """GETs small JSON/YAML documents with bounded retries and a size limit."""

    def __init__(self, client: Any, settings: ApiSettings) -> None:
        import httpx
        from google.api_core import retry

        self._client = client
        self._timeout = settings.timeout_seconds
        self._retry = retry.Retry(
            predicate=retry.if_exception_type(httpx.TransportError, TransientStatus),
            initial=0.2,
            maximum=min(10.0, max(settings.retry_seconds / 4, 0.2)),
            multiplier=2.0,
            timeout=settings.retry_seconds,
        )

    def document(self, url: str) -> Any:
        """The parsed document at ``url``; raises PolicyUnavailable with a one-line reason."""
        import httpx
        from google.api_core import exceptions as core

        try:
            text = self._retry(self._bounded_get)(url)
        except core.RetryError as exc:
            raise PolicyUnavailable(
                f"gave up after retrying {display_url(url)}: {_http_reason(exc.cause)}"
            ) from None
        except (httpx.HTTPError, TransientStatus) as exc:
            raise PolicyUnavailable(
                f"cannot read {display_url(url)}: {_http_reason(exc)}"
            ) from None
        try:
            return parse_yaml(text, Path(display_url(url)), "document").data
        except InputError as exc:
            raise PolicyUnavailable(str(exc)) from None

    def _bounded_get(self, url: str) -> str:
        """One GET bounded in total time, not per read (a trickling server times out)."""
        import httpx

        future = start_bounded(partial(self._get, url))
        try:
            return future.result(timeout=self._timeout)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no complete answer within {self._timeout:g} s") from None

    def _get(self, url: str) -> str:
        with self._client.stream(
            "GET", url, timeout=self._timeout, follow_redirects=False
        ) as response:
            if response.status_code == 429 or response.status_code >= 500:
                raise TransientStatus(f"HTTP {response.status_code}")
            if response.status_code != 200:
                raise PolicyUnavailable(f"{display_url(url)} answered HTTP {response.status_code}")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_DOCUMENT_BYTES:
                    raise PolicyUnavailable(
                        f"{display_url(url)} is larger than {MAX_DOCUMENT_BYTES} bytes"
                    )
                chunks.append(chunk)
        try:
            return b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyUnavailable(f"{display_url(url)} is not UTF-8 text") from None


def _http_reason(exc: BaseException | None) -> str:
    import httpx

    if isinstance(exc, TransientStatus):
        return str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.TransportError):
        return "connection failed"
    return type(exc).__name__ if exc is not None else "transient errors"


def _policy_from(data: Any, origin: str) -> ClaimPolicy:
    if not isinstance(data, dict):
        raise PolicyUnavailable(f"{origin}: a claim policy must be a mapping")
    try:
        return ClaimPolicy.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "<top level>"
        raise PolicyUnavailable(
            f"{origin}: invalid claim policy: {where}: {error['msg']}"
        ) from None


class AuthPolicyCollector:
    """Reads one environment's claim policy, OIDC keys and token conformance."""

    source = SOURCE

    def __init__(
        self,
        http: Any,
        secrets_client: Any,
        config: LoadedConfig,
        fingerprints: Fingerprinter,
        now: Callable[[], float] = time.time,
        access_payloads: bool = True,
    ) -> None:
        self._access_payloads = access_payloads
        self._fetcher = HttpFetcher(http, config.model.api)
        self._secrets = secrets_client
        self._config = config
        self._settings = config.model.api
        self._fingerprints = fingerprints
        self._now = now

    def collect(
        self, env_name: str, env: Environment, services: Mapping[str, Mapping[str, Any]]
    ) -> CollectorResult:
        """The ``auth-policy/<name>`` resource of ``env``, or the errors that prevented it."""
        result = CollectorResult()
        auth = env.auth
        if auth is None:
            return result
        key = f"auth-policy/{auth.name}"
        neutral = Neutralizer(
            project=env.project, project_number=env.project_number, name_map=env.name_map
        )
        try:
            policy = self._policy(auth, env, services, neutral) if auth.policy else ClaimPolicy()
            oidc, keys = self._oidc(auth.oidc) if auth.oidc else ({}, None)
        except PolicyUnavailable as exc:
            result.errors.append(
                CollectionErrorRecord(source=SOURCE, resource=key, message=str(exc))
            )
            return result
        except api_failures() as exc:  # SDK failures while reading a policy secret
            result.errors.append(
                failure_record("secretmanager.googleapis.com", key, exc, ACCESS_PERMISSION)
            )
            return result
        check = TokenCheck(name="", environment=env_name, policy=policy, keys=keys, now=self._now())
        tokens = {}
        for spec in auth.tokens:
            check.name = spec.name
            tokens[spec.name] = check.evaluate(
                os.environ.get(spec.env), spec.capabilities, self._fingerprints
            )
        result.resources[key] = normalize_auth_policy(
            policy_source_kind(auth.policy) or "none",
            policy.canonical(),
            oidc,
            _service_audiences(services),
            tokens,
            neutral,
            self._fingerprints,
        )
        return result

    # Policy sources --------------------------------------------------------------------------
    def _policy(
        self,
        auth: AuthConfig,
        env: Environment,
        services: Mapping[str, Mapping[str, Any]],
        neutral: Neutralizer,
    ) -> ClaimPolicy:
        source = auth.policy
        if isinstance(source, FileSource):
            return self._file_policy(self._config.resolve(source.file))
        if isinstance(source, UrlSource):
            return _policy_from(self._fetcher.document(source.url), display_url(source.url))
        if isinstance(source, SecretSource):
            return self._secret_policy(env, source.secret)
        if isinstance(source, ServiceEnvSource):
            return _service_env_policy(source, services, neutral)
        raise PolicyUnavailable("no policy source")  # pragma: no cover - config forbids it

    def _file_policy(self, path: Path) -> ClaimPolicy:
        from driftcheck.yamlio import load_yaml

        document = load_yaml(path, "claim policy")
        if not isinstance(document.data, dict):
            raise ConfigError(f"{path}:1: a claim policy must be a mapping")
        try:
            return ClaimPolicy.model_validate(document.data)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, document, ClaimPolicy)) from None

    def _secret_policy(self, env: Environment, secret: str) -> ClaimPolicy:
        if not self._access_payloads:
            raise PolicyUnavailable(
                f"the policy is held in secret {secret}, and payloads are not accessed "
                "(--no-secret-payloads)"
            )
        name = f"projects/{env.project}/secrets/{secret}/versions/latest"
        response = self._secrets.access_secret_version(
            request={"name": name},
            retry=retry_policy(self._settings),
            timeout=self._settings.timeout_seconds,
        )
        try:
            text = bytes(response.payload.data).decode("utf-8")
            data = parse_yaml(text, Path(f"secret {secret}"), "claim policy").data
        except (UnicodeDecodeError, InputError):
            raise PolicyUnavailable(
                f"secret {secret} does not hold a YAML or JSON claim policy"
            ) from None
        return _policy_from(data, f"secret {secret}")

    # OIDC ----------------------------------------------------------------------------------------
    def _oidc(self, issuer: str) -> tuple[dict[str, Any], dict[str, Any]]:
        import jwt

        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        discovery = self._fetcher.document(url)
        if not isinstance(discovery, dict) or "jwks_uri" not in discovery:
            raise PolicyUnavailable(
                f"{display_url(url)} is not an OpenID discovery document (no jwks_uri)"
            )
        try:
            jwks_uri = check_fetch_url(str(discovery["jwks_uri"]))
        except ValueError:
            raise PolicyUnavailable(
                f"{display_url(url)}: jwks_uri must be an https:// URL"
            ) from None
        jwks = self._fetcher.document(jwks_uri)
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise PolicyUnavailable(f"{display_url(jwks_uri)} is not a JWKS (no keys list)")
        published: dict[str, Any] = {}
        verifiers: dict[str, Any] = {}
        private = False
        for index, jwk in enumerate(k for k in jwks["keys"] if isinstance(k, dict)):
            kid = str(jwk.get("kid") or f"key-{index}")
            private = private or bool(PRIVATE_JWK_MEMBERS & set(jwk))
            public = {k: v for k, v in jwk.items() if k not in PRIVATE_JWK_MEMBERS}
            published[kid] = {
                "kty": public.get("kty"),
                "alg": public.get("alg"),
                "use": public.get("use"),
                "thumbprint": jwk_thumbprint(public),
            }
            try:
                verifiers[kid] = jwt.PyJWK(public)
            except (jwt.PyJWTError, ValueError, TypeError):
                continue  # listed, but cannot verify anything
        oidc = {
            "issuer": discovery.get("issuer"),
            "algorithms": sorted(discovery.get("id_token_signing_alg_values_supported") or []),
            "keys": published,
            "private_key_material": private,
        }
        return oidc, verifiers


def _service_audiences(services: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    return {
        key: sorted(body["custom_audiences"])
        for key, body in sorted(services.items())
        if key.startswith("service/") and body.get("custom_audiences")
    }


def _service_env_policy(
    source: ServiceEnvSource, services: Mapping[str, Mapping[str, Any]], neutral: Neutralizer
) -> ClaimPolicy:
    ref = source.service_env
    origin = f"service {ref.service}, env {ref.var}"
    names = {ref.service, neutral(ref.service)}  # as deployed, or in neutral form
    for key, body in sorted(services.items()):
        if not key.startswith("service/") or key.rsplit("/", 1)[-1] not in names:
            continue
        for container in (body.get("template", {}).get("containers") or {}).values():
            variable = (container.get("env") or {}).get(ref.var)
            if variable is None:
                continue
            value = variable.get("value")
            if is_redacted(value) or not isinstance(value, str):
                raise PolicyUnavailable(f"{origin}: the value is not readable as a policy")
            try:
                data = parse_yaml(value, Path(origin), "claim policy").data
            except InputError:
                data = value
            if isinstance(data, dict):
                return _policy_from(data, origin)
            permissions = data if isinstance(data, list) else str(data).replace(",", " ").split()
            return ClaimPolicy(capabilities={ref.capability: [str(p) for p in permissions]})
    raise PolicyUnavailable(f"{origin}: no such service or variable was collected")


def collect_auth_policy(context: CollectionContext, request: CollectRequest) -> CollectorResult:
    """The environment's auth policy, when the config names one."""
    if request.env.auth is None:
        return CollectorResult()
    collector = AuthPolicyCollector(
        context.clients.http,
        context.clients.secrets,
        request.config,
        context.fingerprints,
        access_payloads=context.access_payloads,
    )
    return collector.collect(request.env_name, request.env, request.upstream.resources)
