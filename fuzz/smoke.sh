#!/usr/bin/env bash
# A bounded fuzz run of every target (CI calls it): libFuzzer through cargo-fuzz, on the
# stable toolchain (RUSTC_BOOTSTRAP lets cargo-fuzz pass its flags; no sanitizer runtime needed).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in $(RUSTC_BOOTSTRAP=1 cargo fuzz list); do
  echo "fuzzing $target for ${seconds}s"
  RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$target" -- -max_total_time="$seconds"
done
