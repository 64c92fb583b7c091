"""``driftcheck demo``: the whole pipeline on the built-in emulator and bundled scenario.

It starts the emulator on 127.0.0.1, points the API clients at it, baselines production, checks
production against its own baseline (clean) and staging against production (the incident), and
writes everything under the output folder.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from driftcheck.baseline import approved, snapshot_text, write_snapshot
from driftcheck.clients import DEPENDENCY_ENDPOINTS, RUN_ENDPOINT_VAR, SECRETMANAGER_ENDPOINT_VAR
from driftcheck.config import LoadedConfig, load_config
from driftcheck.emulator import EmulatorServer, load_scenario
from driftcheck.emulator.probes import ProbeServer
from driftcheck.emulator.scenario import SCENARIOS_DIR
from driftcheck.fingerprint import KEY_ENV_VAR
from driftcheck.init import SCHEMA_FILE
from driftcheck.model import Severity
from driftcheck.pipeline import (
    CollectionContext,
    collect_environment,
    collection_context,
    run_check,
)
from driftcheck.render.interface import ReportFormat, render_reports, report_stem, write_outputs
from driftcheck.render.terminal import color_wanted, render_summary
from driftcheck.report import exit_code
from driftcheck.schemas import shipped_schema
from driftcheck.yamlio import write_text_atomic

# A fixed, published key: demo fingerprints are reproducible and protect nothing real.
DEMO_FINGERPRINT_KEY = "driftcheck-demo-key-not-for-real-use"
# The E2E suite in the story still holds staging's version 7; staging has rotated to 8.
DEMO_CONSUMER = ("E2E_OAUTH_SIMULATION_KEY", "demo-stg-e2e-key-v7-51b2")
DEMO_TOKEN_VAR = "E2E_FALLBACK_JWT"  # noqa: S105 - a variable name, not a token


def fallback_token() -> str:
    """The E2E fallback token of the story: RS256, but only ``read`` and ``write``."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {
        "iss": "https://auth.acme-staging.example.com",
        "aud": "backend",
        "sub": "e2e-suite",
        "iat": now,
        "exp": now + 3600,
        "permissions": ["read", "write"],
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "demo-e2e"})


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_demo(out_dir: Path) -> int:
    """Run the demo; return the exit code (0 when the pipeline ran)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    config_path = out_dir / "driftcheck.yaml"
    shutil.copytree(SCENARIOS_DIR / "policies", out_dir / "policies", dirs_exist_ok=True)
    scenario = load_scenario(SCENARIOS_DIR / "demo.yaml")
    with EmulatorServer(scenario) as emulator, ProbeServer() as probes:
        config_text = (SCENARIOS_DIR / "demo-config.yaml").read_text(encoding="utf-8")
        write_text_atomic(config_path, config_text.replace("PROBE_PORT", str(probes.port)))
        # The config's modeline names this file: right wherever the demo's folder is.
        write_text_atomic(out_dir / SCHEMA_FILE, shipped_schema("config"))
        click.echo(
            f"driftcheck demo: emulator on {emulator.url}, probe server on port {probes.port}",
            err=True,
        )
        overrides = {
            RUN_ENDPOINT_VAR: emulator.url,
            SECRETMANAGER_ENDPOINT_VAR: emulator.url,
            **{var: emulator.url for var, _public in DEPENDENCY_ENDPOINTS.values()},
            KEY_ENV_VAR: DEMO_FINGERPRINT_KEY,
            DEMO_CONSUMER[0]: DEMO_CONSUMER[1],
            DEMO_TOKEN_VAR: fallback_token(),
        }
        with _environment(overrides):
            config = load_config(config_path)
            with collection_context(config) as context:
                codes = _run_pipeline(config, context, out_dir)
    click.echo(
        "driftcheck demo: done. production vs its baseline exits "
        f"{codes['production']}; staging vs production exits {codes['staging']} "
        f"(a real `driftcheck check` would return these).",
        err=True,
    )
    return 0


def _run_pipeline(
    config: LoadedConfig, context: CollectionContext, out_dir: Path
) -> dict[str, int]:
    """Baseline production, then check production and staging against it."""
    production = collect_environment(config, "production", context)
    write_snapshot(config.baseline_path("production"), approved(production))
    click.echo(
        f"driftcheck demo: baselined production -> {config.baseline_path('production')}",
        err=True,
    )
    codes = {}
    for env_name in ("production", "staging"):
        comparison = run_check(
            config,
            env_name,
            "production",
            context,
            command=f"driftcheck check {env_name} --against production",
        )
        report = comparison.report
        stem = report_stem(env_name, "production")
        outputs = render_reports(report, list(ReportFormat), out_dir, stem)
        outputs.append((out_dir / f"{stem}.snapshot.yaml", snapshot_text(comparison.snapshot)))
        paths = write_outputs(outputs)
        codes[env_name] = exit_code(report, Severity.LOW)
        summary = render_summary(
            report, paths, exit_code=codes[env_name], color=color_wanted(sys.stderr)
        )
        click.echo(summary, err=True)
    return codes
