"""``python -m driftcheck``: the same as the ``driftcheck`` console script."""

from driftcheck.cli import run

run()
