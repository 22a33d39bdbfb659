#!/usr/bin/env bash
# A bounded fuzz run of every target (CI calls it): libFuzzer through cargo-fuzz, on the
# stable toolchain (RUSTC_BOOTSTRAP lets cargo-fuzz pass its flags; no sanitizer runtime needed).
# Each target first replays fuzz/regressions/<target>/ (inputs that once crashed or hit a
# limit: add a crash's artifact there when you fix it), then fuzzes from them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in $(RUSTC_BOOTSTRAP=1 cargo fuzz list); do
  regressions="fuzz/regressions/$target"
  corpus="fuzz/corpus/$target"
  mkdir -p "$regressions" "$corpus"
  echo "replaying $(ls "$regressions" | wc -l) regression inputs of $target"
  RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$target" "$regressions" -- -runs=0
  echo "fuzzing $target for ${seconds}s"
  # New inputs go to the first directory (the ignored corpus), never into regressions.
  RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$target" "$corpus" "$regressions" -- -max_total_time="$seconds"
done
