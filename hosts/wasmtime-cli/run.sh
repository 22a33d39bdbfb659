#!/usr/bin/env bash
# Runs one connector action with the stock wasmtime CLI (48): wasi:http for Zoho, and wasmtime's
# in-memory wasi:keyvalue, which keeps nothing after the process (so only the actions that keep
# no state between steps are useful here; a sweep's page 2 is refused, never page 1 again).
#
#   hosts/wasmtime-cli/run.sh <interface>.<function> '<connection as WAVE>' '<input as WAVE>' ['<call-options as WAVE>']
#   hosts/wasmtime-cli/run.sh crm.get-records '{access-token: some("1000.x")}' '{record-type: "Leads", fields: some("Last_Name")}'
#
# The WIT result as WAVE: ok("<JSON text>") on stdout, exit 0; err({kind: ..., message: "...", ...})
# on stderr, exit 1; 2 when wasmtime itself could not run the step (its error is on stderr).
# WASMTIME (default: the one install.sh put in the cache, else `wasmtime` on PATH) and
# ZOHO_COMPONENT (default: the one ./build.sh built) override the paths.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ $# -lt 3 ]; then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
function="$1" connection="$2" input="$3" options="${4:-none}"
case "$options" in none) ;; *) options="some($options)" ;; esac
cached="${ZOHO_WASMTIME_CLI_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/zoho-connector/wasmtime-cli-48}/bin/wasmtime"
wasmtime="${WASMTIME:-$( [ -x "$cached" ] && echo "$cached" || command -v wasmtime || true)}"
if [ -z "$wasmtime" ]; then
  echo "no wasmtime CLI: run $here/install.sh (or set WASMTIME)" >&2
  exit 2
fi
component="${ZOHO_COMPONENT:-$here/../../target/wasm32-wasip2/release/zoho_connector.wasm}"
# An export inside an exported interface is named package/interface.function@version.
# wasmtime prints the returned value and exits 0 whether it is ok(...) or err(...): the value is
# read here so that a script sees an error in the exit code, as with `zoho-host run`.
status=0
result="$("$wasmtime" run -S http -S keyvalue \
  --invoke "zoho:connector/${function}@0.1.0(${connection}, ${input}, ${options})" "$component")" || status=$?
if [ "$status" != 0 ]; then
  [ -z "$result" ] || printf '%s\n' "$result"
  echo "run.sh: wasmtime exited with status $status" >&2
  exit 2
fi
# The value is the last line wasmtime prints (WAVE escapes newlines inside strings); the component
# writes its logs to stderr, so any line before it is passed through untouched.
value="${result##*$'\n'}"
if [ "$value" != "$result" ]; then
  printf '%s\n' "${result%$'\n'*}"
fi
case "$value" in
  err\(*)
    printf '%s\n' "$value" >&2
    exit 1
    ;;
  ok\(*) printf '%s\n' "$value" ;;
  *)
    printf '%s\n' "$value"
    echo "run.sh: wasmtime printed neither ok(...) nor err(...)" >&2
    exit 2
    ;;
esac
