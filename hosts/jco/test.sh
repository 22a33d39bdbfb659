#!/bin/sh
# The jco recipe's CI test: installs the pinned jco and preview2-shim from package-lock.json
# when node_modules is missing, then transpiles the built component and runs actions against
# the sandbox under Node (test.mjs). Needs node >= 20 and npm; ZOHO_HOST and ZOHO_COMPONENT
# override the zoho-host binary and the component (default: target/native/zoho-host and
# target/wasm32-wasip2/release/zoho_connector.wasm in the repository).
set -eu
cd "$(dirname "$0")"
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "hosts/jco: Node $(node --version) is too old; jco needs Node 20 or later" >&2
  exit 1
fi
if [ ! -x node_modules/.bin/jco ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
exec node test.mjs
