#!/usr/bin/env bash
# Builds the component (wasm32-wasip2, size-tuned release profile) and the host, sandbox and
# tests (native profile), once; `cargo test --profile native` reuses these artifacts.
set -euo pipefail
cd "$(dirname "$0")"

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "installing the wasm32-wasip2 target"
  rustup target add wasm32-wasip2
fi

# The Redis key-value backend's tests start their own redis-server.
if ! command -v redis-server >/dev/null; then
  echo "installing redis-server (for the Redis backend's tests)"
  if [ "$(id -u)" = 0 ]; then apt-get install -y redis-server >/dev/null || (apt-get update >/dev/null && apt-get install -y redis-server >/dev/null)
  else sudo apt-get install -y redis-server >/dev/null || (sudo apt-get update >/dev/null && sudo apt-get install -y redis-server >/dev/null); fi
fi

# The stock wasmtime CLI recipe's test (host/tests/wasmtime_cli.rs) runs wasmtime-cli 48, compiled
# once into a cache folder outside the clone and reused after (ZOHO_SKIP_WASMTIME_CLI=1 skips it).
if [ "${ZOHO_SKIP_WASMTIME_CLI:-0}" != 1 ]; then
  hosts/wasmtime-cli/install.sh >/dev/null
fi

cargo build --release --target wasm32-wasip2 -p zoho-connector
cargo build --profile native -p zoho-host -p zoho-sandbox

wasm="$PWD/target/wasm32-wasip2/release/zoho_connector.wasm"
echo "component: $wasm ($(wc -c < "$wasm") bytes)"
echo "host:      $PWD/target/native/zoho-host"
