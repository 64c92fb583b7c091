"""``python -m driftcheck.emulator SCENARIO [--port N]``: the same as ``driftcheck emulator``."""

from __future__ import annotations

import sys

from driftcheck.cli import main

if __name__ == "__main__":
    main(["emulator", *sys.argv[1:]])
