"""``python -m driftcheck``: the same as the ``driftcheck`` console script."""

from driftcheck.cli import run

if __name__ == "__main__":
    run()
