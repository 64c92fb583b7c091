#!/usr/bin/env bash
# Last step of the action: fail the job with driftcheck's exit code (after the uploads ran).
set -euo pipefail
code="${EXIT_CODE:-}"
case "$code" in
  0) echo "driftcheck: clean" ;;
  1) echo "::error::driftcheck: drift at or above fail-on (exit 1)" ;;
  3) echo "::error::driftcheck: collection incomplete (exit 3); the verdict cannot be clean" ;;
  "") echo "::error::driftcheck did not run"; code=2 ;;
  *) echo "::error::driftcheck failed (exit $code)" ;;
esac
exit "$code"
