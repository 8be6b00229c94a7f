#!/usr/bin/env bash
# Fuzzes every parser that reads what a network peer sends (fuzz/fuzz_targets/):
# builds all targets once, then runs each for SECONDS (default 30), one after
# the other. Exits non-zero, naming the crashing input, if any target crashes,
# panics, fails an assertion, times out or runs out of memory.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# cargo-fuzz is installed into .tools/cargo when missing. The toolchain is
# stable; RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the nightly flags it needs.
# The targets are built without a sanitizer (repobus is safe Rust; what the
# fuzzers look for is panics), with debug assertions and overflow checks.
#
# Each target reads the committed seeds in fuzz/corpus/<target>/ and writes
# what it finds to fuzz/.work/corpus/<target>/ (git-ignored), so the seeds
# stay as committed and later runs start from what earlier ones found.
# Crashing inputs go to fuzz/artifacts/<target>/, logs to fuzz/.work/logs/.
# To reproduce one: fuzz/target/x86_64-unknown-linux-gnu/release/TARGET FILE
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

seconds="${1:-30}"
shift || true
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

export PATH="$root/.tools/cargo/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz into .tools/cargo" >&2
  cargo install --locked --root .tools/cargo cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1

targets=("$@")
if [ "${#targets[@]}" = 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

# The workspace's lock file, so that repobus's dependencies are fuzzed at
# the versions the workspace builds with (see fuzz/Cargo.toml).
cp Cargo.lock fuzz/Cargo.lock
start=$SECONDS
cargo fuzz build --sanitizer none
echo "fuzz: built ${#targets[@]} targets in $((SECONDS - start)) s" >&2

triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="fuzz/target/$triple/release"
failed=()
for target in "${targets[@]}"; do
  work="fuzz/.work/corpus/$target"
  artifacts="fuzz/artifacts/$target"
  log="fuzz/.work/logs/$target.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")" "fuzz/corpus/$target"
  dict=()
  if [ -f "fuzz/dict/$target.dict" ]; then
    dict=("-dict=fuzz/dict/$target.dict")
  fi
  status=0
  "$bin_dir/$target" "$work" "fuzz/corpus/$target" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "${dict[@]}" \
    >"$log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)"
  corpus="$(grep -oE 'corp: [0-9]+' "$log" | tail -n1 | sed 's/corp: //')"
  if [ "$status" = 0 ]; then
    echo "fuzz: $target: ${runs:-?} runs, ${speed:-?} exec/s, corpus ${corpus:-?} inputs, no crash" >&2
  else
    tail -n 40 "$log" >&2
    input="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)"
    echo "fuzz: $target FAILED (exit $status) on input ${input:-(none written)}; log: $log" >&2
    failed+=("$target: ${input:-$log}")
  fi
done

echo "fuzz: done in $((SECONDS - start)) s" >&2
if [ "${#failed[@]}" != 0 ]; then
  printf 'fuzz: crash in %s\n' "${failed[@]}" >&2
  exit 1
fi
