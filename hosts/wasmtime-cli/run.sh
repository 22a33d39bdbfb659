#!/usr/bin/env bash
# Runs one connector action with the stock wasmtime CLI (48): wasi:http for Zoho, and wasmtime's
# in-memory wasi:keyvalue, which keeps nothing after the process (so only the actions that keep
# no state between steps are useful here; a sweep's page 2 is refused, never page 1 again).
#
#   hosts/wasmtime-cli/run.sh <interface>.<function> '<connection as WAVE>' '<input as WAVE>' ['<call-options as WAVE>']
#   hosts/wasmtime-cli/run.sh crm.get-records '{access-token: some("1000.x")}' '{record-type: "Leads", fields: some("Last_Name")}'
#
# Prints the WIT result as WAVE: ok("<JSON text>") or err({kind: ..., message: "...", ...}).
# WASMTIME (default: the one install.sh put in the cache, else `wasmtime` on PATH) and
# ZOHO_COMPONENT (default: the one ./build.sh built) override the paths.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ $# -lt 3 ]; then
  sed -n '2,11p' "$0" >&2
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
exec "$wasmtime" run -S http -S keyvalue \
  --invoke "zoho:connector/${function}@0.1.0(${connection}, ${input}, ${options})" "$component"
