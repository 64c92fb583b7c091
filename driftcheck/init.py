"""``driftcheck init``: a first driftcheck.yaml from what the projects really hold.

For each ``--env NAME=PROJECT`` it lists the regions where Cloud Run is offered
(:func:`driftcheck.locations.list_run_regions`) and the services of each region, keeps the regions
that hold services, and proposes ``name_map`` entries where service names differ between
environments by one token (``api-prod`` / ``api-stg``). The file is written with the schema
modeline and comments saying what was found; it is validated against the config model before it
is written, written atomically, and never replaces an existing file.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftcheck.collectors.interface import (
    Permission,
    failure_record,
    pages,
    retry_policy,
)
from driftcheck.config import ApiSettings, Config
from driftcheck.errors import CollectionError, ReportError, UsageError
from driftcheck.locations import list_run_regions, read_failures

SOURCE = "run.googleapis.com"
LIST_PERMISSION = Permission("run.services.list", "roles/run.viewer")
SCHEMA_FILE = Path(".driftcheck") / "config.schema.json"
MODELINE = f"# yaml-language-server: $schema={SCHEMA_FILE.as_posix()}"
_ENV_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,61}[a-z0-9]$")
_TOKEN_SPLIT = re.compile(r"([-_./])")
ENV_PLACEHOLDER = "${env}"
MAX_WORKERS = 8


@dataclass(frozen=True)
class EnvironmentTarget:
    """One ``--env NAME=PROJECT``."""

    name: str
    project: str


@dataclass
class DiscoveredEnvironment:
    """What one project holds: region -> the short names of its services."""

    target: EnvironmentTarget
    offered_regions: list[str] = field(default_factory=list)
    services: dict[str, list[str]] = field(default_factory=dict)

    @property
    def regions(self) -> list[str]:
        """Regions that hold at least one service, sorted."""
        return sorted(region for region, names in self.services.items() if names)

    @property
    def service_names(self) -> list[str]:
        """Every service name, once, sorted."""
        return sorted({name for names in self.services.values() for name in names})


def parse_targets(values: Sequence[str]) -> list[EnvironmentTarget]:
    """``["production=acme-prod", …]`` -> targets; a malformed one is a UsageError."""
    targets: list[EnvironmentTarget] = []
    for value in values:
        name, sep, project = value.partition("=")
        name, project = name.strip(), project.strip()
        if not sep or not _ENV_NAME.match(name) or not _PROJECT.match(project):
            raise UsageError(
                f"--env {value!r}: expected NAME=PROJECT, e.g. production=acme-prod "
                "(lower-case environment name, a GCP project id)"
            )
        if any(t.name == name for t in targets):
            raise UsageError(f"--env: environment {name!r} given twice")
        targets.append(EnvironmentTarget(name, project))
    if not targets:
        raise UsageError("init: name at least one environment with --env NAME=PROJECT")
    return targets


def tokens(name: str) -> list[str]:
    """A name split into whole tokens and their separators (``api-prod`` -> api, -, prod)."""
    return _TOKEN_SPLIT.split(name)


def propose_name_maps(found: Sequence[DiscoveredEnvironment]) -> dict[str, dict[str, str]]:
    """Per environment, the tokens that stand for the environment in its service names.

    A token is proposed when a service name of one environment and one of another differ in
    exactly that one token position, and the token never appears in the other environment's
    names (so ``v1``/``v2`` inside both is not taken for an environment).
    """
    votes: dict[str, Counter[str]] = {env.target.name: Counter() for env in found}
    vocab = {
        env.target.name: {t for n in env.service_names for t in tokens(n)[::2]} for env in found
    }
    for index, left in enumerate(found):
        for right in found[index + 1 :]:
            for a in left.service_names:
                for b in right.service_names:
                    pair = _single_token_difference(a, b)
                    if pair is None:
                        continue
                    token_a, token_b = pair
                    if token_a in vocab[right.target.name] or token_b in vocab[left.target.name]:
                        continue
                    votes[left.target.name][token_a] += 1
                    votes[right.target.name][token_b] += 1
    return {
        env: dict.fromkeys(sorted(counter), ENV_PLACEHOLDER)
        for env, counter in votes.items()
        if counter
    }


def _single_token_difference(a: str, b: str) -> tuple[str, str] | None:
    parts_a, parts_b = tokens(a), tokens(b)
    if len(parts_a) != len(parts_b) or parts_a[1::2] != parts_b[1::2]:
        return None
    differing = [(x, y) for x, y in zip(parts_a[::2], parts_b[::2], strict=True) if x != y]
    if len(differing) != 1:
        return None
    x, y = differing[0]
    if not (any(c.isalnum() for c in x) and any(c.isalnum() for c in y)):
        return None
    return x, y


def discover(
    run_client: Any, targets: Sequence[EnvironmentTarget], settings: ApiSettings
) -> list[DiscoveredEnvironment]:
    """Regions and services of every target; a failed read is a CollectionError (exit 3)."""
    found = []
    with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
        for target in targets:
            env = DiscoveredEnvironment(target)
            env.offered_regions = list_run_regions(run_client, target.project, settings)
            listings = pool.map(
                lambda region, project=target.project: _service_names(
                    run_client, project, region, settings
                ),
                env.offered_regions,
            )
            env.services = dict(zip(env.offered_regions, listings, strict=True))
            found.append(env)
    return found


def _service_names(run_client: Any, project: str, region: str, settings: ApiSettings) -> list[str]:
    parent = f"projects/{project}/locations/{region}"
    retry = retry_policy(settings)
    names: list[str] = []
    try:
        pager = run_client.list_services(
            parent=parent, retry=retry, timeout=settings.timeout_seconds
        )
        for page in pages(pager):
            names.extend(str(service.name).rsplit("/", 1)[-1] for service in page.services)
    except read_failures() as exc:
        record = failure_record(SOURCE, parent, exc, LIST_PERMISSION)
        raise CollectionError(record.message, source=SOURCE, resource=parent) from None
    return sorted(set(names))


def _region_block(found: Sequence[DiscoveredEnvironment]) -> dict[str, str]:
    """YAML for each environment's regions: aliases when every environment has one region
    and they are not all the same (so the environments still compare), else lists."""
    single = all(len(env.regions) == 1 for env in found)
    distinct = {env.regions[0] for env in found} if single else set()
    blocks = {}
    for env in found:
        if single and len(distinct) > 1:
            blocks[env.target.name] = f"{{primary: {env.regions[0]}}}"
        else:
            blocks[env.target.name] = "[" + ", ".join(env.regions) + "]"
    return blocks


def render_config(
    found: Sequence[DiscoveredEnvironment], name_maps: dict[str, dict[str, str]]
) -> str:
    """The commented driftcheck.yaml text."""
    regions = _region_block(found)
    lines = [
        MODELINE,
        "# Written by `driftcheck init` from what the projects held; review it, then run",
        "# `driftcheck baseline ENV` for each environment and commit baselines/ in a pull request.",
        "version: 1",
        "baselines_dir: baselines",
        "reports_dir: reports",
        "environments:",
    ]
    for env in found:
        name = env.target.name
        offered = len(env.offered_regions)
        lines += [
            f"  {name}:",
            f"    project: {env.target.project}",
            f"    # {len(env.regions)} of {offered} Cloud Run regions hold services",
            f"    regions: {regions[name]}",
            "    # Omitted `services` reads every service; list some to narrow the check:",
        ]
        for region in env.regions:
            lines.append(f"    #   {region}: {', '.join(env.services[region])}")
        mapping = name_maps.get(name)
        if mapping:
            pairs = ", ".join(f'{token}: "{value}"' for token, value in mapping.items())
            lines += [
                "    # Proposed: these tokens stand for the environment in service names",
                f"    name_map: {{{pairs}}}",
            ]
    lines += [
        "rules:",
        "  ignore: []    # {resource, path, reason}: differences that are legitimate",
        "  severity: []  # {resource, path, severity}: raise or lower a finding",
        "  suppress: []  # {id, reason, owner, expires}: accept one finding for a while",
        "",
    ]
    return "\n".join(lines)


def validate(text: str, output: Path) -> None:
    """The text must be a valid config: a bug here must not leave an unusable file."""
    import yaml

    Config.model_validate(yaml.safe_load(text))
    if not text.startswith(MODELINE):
        raise ReportError(f"{output}: generated config lacks its schema modeline")


def write_new(path: Path, text: str) -> None:
    """Write ``path`` atomically, refusing (exit 2) if it exists, even if it appeared meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)  # a config to commit, not mkstemp's private 0600
        os.link(tmp_name, path)  # fails if path exists: never replaces
    except FileExistsError:
        raise UsageError(f"{path} already exists; not overwritten (choose --output)") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot write: {exc.strerror or type(exc).__name__}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)


def run_init(env_values: Sequence[str], output: Path, run_client: Any | None = None) -> str:
    """Discover, render, validate and write; return a one-line summary for stderr."""
    from driftcheck.schemas import shipped_schema
    from driftcheck.yamlio import write_text_atomic

    targets = parse_targets(env_values)
    if output.exists() or output.is_symlink():
        raise UsageError(f"{output} already exists; not overwritten (choose --output)")
    if run_client is None:
        from driftcheck.clients import build_clients

        run_client = build_clients(pool_size=MAX_WORKERS).run
    found = discover(run_client, targets, ApiSettings())
    empty = [env.target.project for env in found if not env.regions]
    if empty:
        raise UsageError(f"no Cloud Run service found in project {empty[0]}: nothing to configure")
    text = render_config(found, propose_name_maps(found))
    validate(text, output)
    write_new(output, text)
    write_text_atomic(output.parent / SCHEMA_FILE, shipped_schema("config"))
    counts = ", ".join(
        f"{env.target.name}: {len(env.service_names)} services in {len(env.regions)} regions"
        for env in found
    )
    return f"driftcheck: wrote {output} ({counts})"
