#!/usr/bin/env bash
# Install driftcheck from this checkout into a fresh virtual environment VENV (argument), taking
# every third-party package from the hashed locks in requirements/: the same set the tests ran.
# In a GitHub job the venv's bin folder is added to GITHUB_PATH for the following steps.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:?usage: install.sh VENV}"
python="${DRIFTCHECK_PYTHON:-python3}"

"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check)
"${pip[@]}" install --require-hashes \
  -r "$root/requirements/build.lock" -r "$root/requirements/runtime.lock"
# driftcheck itself: no dependency resolution, and the build backend from the build lock.
"${pip[@]}" install --no-deps --no-build-isolation "$root"
"$venv/bin/driftcheck" --version
if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$venv/bin" >>"$GITHUB_PATH"
fi
