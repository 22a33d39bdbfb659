#!/usr/bin/env bash
# Installs the stock wasmtime CLI 48 into a cache folder outside the clone (reused when present),
# for the wasmtime CLI recipe and its test (host/tests/wasmtime_cli.rs). Prints the binary's path.
# ZOHO_WASMTIME_CLI_ROOT overrides the folder. The first install compiles wasmtime (long).
set -euo pipefail
root="${ZOHO_WASMTIME_CLI_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/zoho-connector/wasmtime-cli-48}"
if ! "$root/bin/wasmtime" --version 2>/dev/null | grep -q '^wasmtime 48\.'; then
  echo "installing wasmtime-cli 48 into $root (compiles once; later runs reuse it)" >&2
  cargo install wasmtime-cli --version '^48' --locked --root "$root" >&2
fi
echo "$root/bin/wasmtime"
