#!/usr/bin/env bash
# The check step of the driftcheck action (action.yml). It reads the action's inputs from INPUT_*
# variables exactly as the composite step passes them, so a test (or a person) can run it
# outside GitHub with the same values. It never fails the step itself: the exit code goes to the
# step's outputs, and action/verdict.sh fails the job after the reports have been uploaded.
#
#   INPUT_CONFIG INPUT_ENVIRONMENT INPUT_AGAINST INPUT_FAIL_ON INPUT_FORMATS INPUT_VERSION
#   INPUT_OUT_DIR INPUT_SARIF INPUT_TRACKER INPUT_TRACKER_LABELS INPUT_FINGERPRINT_KEY
#   INPUT_GITHUB_TOKEN, and GitHub's GITHUB_OUTPUT, GITHUB_STEP_SUMMARY (files to append to).
set -uo pipefail

output() { echo "$1=$2" >>"${GITHUB_OUTPUT:-/dev/null}"; }
summary() { cat >>"${GITHUB_STEP_SUMMARY:-/dev/null}"; }
fail_input() {
  echo "::error::driftcheck action: $1"
  output exit-code 2
  exit 0
}

name_pattern='^[a-z][a-z0-9_-]{0,62}$'
environment="${INPUT_ENVIRONMENT:-}"
against="${INPUT_AGAINST:-}"
[[ "$environment" =~ $name_pattern ]] || fail_input "environment must be an environment name"
[[ -z "$against" || "$against" =~ $name_pattern ]] || fail_input "against must be an environment name"
case "${INPUT_FAIL_ON:-low}" in
  critical | high | medium | low | info) fail_on="${INPUT_FAIL_ON:-low}" ;;
  *) fail_input "fail-on must be one of critical, high, medium, low, info" ;;
esac
[[ "${INPUT_FORMATS:-json,html,md}" =~ ^[a-z,]+$ ]] || fail_input "formats: a comma-separated list"
formats="${INPUT_FORMATS:-json,html,md}"
# The JSON report feeds the outputs and the tracker; SARIF is made when it is to be uploaded.
[[ ",$formats," == *",json,"* ]] || formats="$formats,json"
if [ "${INPUT_SARIF:-false}" = true ] && [[ ",$formats," != *",sarif,"* ]]; then
  formats="$formats,sarif"
fi
config="${INPUT_CONFIG:-driftcheck.yaml}"
out_dir="${INPUT_OUT_DIR:-reports/driftcheck}"
base="${against:-$environment}"
pair="$environment-vs-$base"

installed="$(driftcheck --version 2>/dev/null | sed -n 's/^driftcheck, version //p')"
if [ -n "${INPUT_VERSION:-}" ] && [ "$installed" != "$INPUT_VERSION" ]; then
  fail_input "version ${INPUT_VERSION} was asked for but the action installs ${installed:-nothing}; change the uses: ref"
fi
if [ -n "${INPUT_FINGERPRINT_KEY:-}" ]; then
  export DRIFTCHECK_FINGERPRINT_KEY="$INPUT_FINGERPRINT_KEY"
fi

against_args=()
[ -n "$against" ] && against_args=(--against "$against")
# The GitHub token is for the tracker only: driftcheck check never sees it.
env -u INPUT_GITHUB_TOKEN -u GITHUB_TOKEN -u INPUT_FINGERPRINT_KEY \
  driftcheck --config "$config" check "$environment" "${against_args[@]}" \
  --format "$formats" --fail-on "$fail_on" --out-dir "$out_dir" --no-color
code=$?

output pair "$pair"
output artifact-name "driftcheck-$pair"
output report-files "$out_dir/$pair.*"
json="$out_dir/$pair.json"
if [ -f "$json" ]; then
  status="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["status"])' "$json")"
  output report "$json"
  output status "$status"
  [ -f "$out_dir/$pair.sarif" ] && output sarif "$out_dir/$pair.sarif"
  if [ -f "$out_dir/$pair.md" ]; then
    # One report per step: GitHub caps each step's summary at 1 MiB, and the report keeps under it.
    summary <"$out_dir/$pair.md"
  else
    echo "driftcheck: $environment vs $base: **$status** (exit $code)" | summary
  fi
else
  echo "driftcheck: $environment vs $base: no report was written (exit $code); see the log." | summary
fi

if [ "${INPUT_TRACKER:-false}" = true ]; then
  if [ -f "$json" ]; then
    labels=()
    IFS=',' read -r -a label_list <<<"${INPUT_TRACKER_LABELS:-}"
    for label in "${label_list[@]}"; do
      label="$(echo "$label" | xargs)"
      [ -n "$label" ] && labels+=(--label "$label")
    done
    if ! GITHUB_TOKEN="${INPUT_GITHUB_TOKEN:-}" driftcheck track "$json" "${labels[@]}"; then
      echo "::error::driftcheck: the tracker issue could not be updated"
      [ "$code" = 0 ] && code=2
    fi
  else
    echo "::warning::driftcheck: no report, so the tracker issue was left alone"
  fi
fi
output exit-code "$code"
exit 0
