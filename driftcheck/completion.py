"""Shell completion of environment names from the config (click's ``_DRIFTCHECK_COMPLETE``).

Completion runs on every key press of Tab: it must be quick, print nothing and never fail, so
any problem with the config simply completes nothing.
"""

from __future__ import annotations

from typing import Any


def environment_names(config_path: str | None, incomplete: str) -> list[Any]:
    """click CompletionItems for the config's environments starting with ``incomplete``."""
    from click.shell_completion import CompletionItem

    from driftcheck.config import load_config, resolve_config_path
    from driftcheck.errors import DriftcheckError

    try:
        config = load_config(resolve_config_path(config_path))
    except (DriftcheckError, OSError, ValueError):
        return []
    return [
        CompletionItem(name, help=environment.project)
        for name, environment in config.model.environments.items()
        if name.startswith(incomplete)
    ]
