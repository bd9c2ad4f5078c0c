#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time (FUZZ_SECONDS each, default 30), for CI
# (`make fuzz-ci`, part of `make test`) and by hand (`make fuzz`, longer). A crash, a failed
# assertion, an AddressSanitizer report, an input that takes over FUZZ_INPUT_TIMEOUT seconds or
# a build failure fails the script, naming the target, the input it saved and the log.
#
# Without cargo-fuzz: cargo-fuzz is only a driver around `cargo build` with instrumentation
# flags, and installing it would cost CI minutes it does not have. So this builds the fuzz crate
# directly with the flags `cargo fuzz build` uses (SanitizerCoverage with 8-bit counters, PC
# table, comparison tracing and stack depth; AddressSanitizer; `--cfg fuzzing`; debug
# assertions; `--target` given so build scripts and proc macros stay uninstrumented), then runs each libFuzzer binary with -max_total_time. The build lives in
# target/fuzz (incremental across runs, like the rest of target/); each target's corpus is kept
# in target/fuzz/corpus/<target>, so later runs start from what earlier runs found.
#
# Nightly only (-Zsanitizer): without a nightly toolchain it says that it is skipped and
# succeeds. FUZZ_TARGETS limits the run to some targets (space-separated); FUZZ_PROFILE=release
# builds optimised (below).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_EACH="${FUZZ_SECONDS:-30}"
INPUT_TIMEOUT="${FUZZ_INPUT_TIMEOUT:-10}"
PROFILE="${FUZZ_PROFILE:-dev}"
# libFuzzer reads 0 as "no limit": a CI step must always end.
for v in "$SECONDS_EACH" "$INPUT_TIMEOUT"; do
  case "$v" in
    '' | *[!0-9]* | 0) echo "fuzz-ci: FUZZ_SECONDS and FUZZ_INPUT_TIMEOUT must be whole numbers of seconds above 0, not '$v'" >&2; exit 1 ;;
  esac
done

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz-ci: no nightly toolchain (rustup toolchain list): the fuzz targets are skipped"
  exit 0
fi

TARGETS="${FUZZ_TARGETS:-$(sed -n 's/^name = "\(.*\)"$/\1/p' "$ROOT/fuzz/Cargo.toml" | grep -v '^db-migrate-fuzz$')}"
[ -n "$TARGETS" ] || { echo "fuzz-ci: no [[bin]] targets in fuzz/Cargo.toml" >&2; exit 1; }
TRIPLE="$(rustc +nightly -vV | sed -n 's/^host: //p')"
OUT="$ROOT/target/fuzz"
mkdir -p "$OUT"

flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table"
flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-simplifycfg-branch-fold-threshold=0"
flags+=" --cfg fuzzing -Clink-dead-code -Zsanitizer=address -Cdebug-assertions"
case "$TRIPLE" in *-linux-*) flags+=" -Cllvm-args=-sanitizer-coverage-stack-depth" ;; esac

# The profile: `dev` (unoptimised, incremental: the build CI can afford, since the optimised
# instrumented build of the crate takes many minutes on 2 cores) or `release` (what
# `cargo fuzz` builds by default: 2 to 5 times more inputs per second here, for long runs).
case "$PROFILE" in
  dev) profile_args=(--config 'profile.dev.debug="line-tables-only"'); out_dir=debug ;;
  release) profile_args=(--release --config 'profile.release.debug="line-tables-only"'); out_dir=release ;;
  *) echo "fuzz-ci: FUZZ_PROFILE must be dev or release, not $PROFILE" >&2; exit 1 ;;
esac

build_started=$(date +%s)
bins=()
for t in $TARGETS; do bins+=(--bin "$t"); done
echo "fuzz-ci: building ${TARGETS//$'\n'/ } (nightly, $TRIPLE, $PROFILE profile, AddressSanitizer) into $OUT"
RUSTFLAGS="$flags" cargo +nightly build --quiet --manifest-path "$ROOT/fuzz/Cargo.toml" \
  --target "$TRIPLE" --target-dir "$OUT" "${profile_args[@]}" "${bins[@]}"
echo "fuzz-ci: built in $(($(date +%s) - build_started)) s"

failed=()
for t in $TARGETS; do
  corpus="$OUT/corpus/$t"
  artifacts="$OUT/artifacts/$t"
  log="$OUT/$t.log"
  mkdir -p "$corpus" "$artifacts"
  started=$(date +%s)
  set +e
  ASAN_OPTIONS="detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
    "$OUT/$TRIPLE/$out_dir/$t" -max_total_time="$SECONDS_EACH" -timeout="$INPUT_TIMEOUT" \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz-ci: $t: ${runs:-?} inputs in $(($(date +%s) - started)) s, no failure (corpus: $(find "$corpus" -type f | wc -l) inputs)"
  else
    failed+=("$t")
    echo "fuzz-ci: $t FAILED (exit $rc); the input is in $artifacts, the whole log in $log:" >&2
    grep -E 'panicked|ERROR: |SUMMARY|Test unit written|timeout' "$log" | head -20 >&2 || tail -30 "$log" >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-ci: failed: ${failed[*]} (reproduce: $OUT/$TRIPLE/$out_dir/<target> <input>)" >&2
  exit 1
fi
