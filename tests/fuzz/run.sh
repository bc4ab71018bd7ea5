#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan, every library instrumented) in their own
# build folder and runs each for SECONDS (default 20), one per core at a time, on a scratch copy
# of its checked-in seed corpus and with its dictionary. Exits non-zero when a target crashed,
# leaked, hit undefined behaviour or broke the readers' error contract (tests/fuzz/fuzz_util.h);
# the input that did it is kept in $VITBENCH_FUZZ_OUT/<target>/ and printed as a replay command.
#
#   tests/fuzz/run.sh [SECONDS]
# Environment: VITBENCH_FUZZ_BUILD (default build-fuzz), VITBENCH_FUZZ_OUT (default
# build-fuzz/fuzz-out), VITBENCH_FUZZ_TARGETS (a space-separated subset), JOBS (build jobs),
# FUZZ_JOBS (targets run at once; default: the number of cores).
set -euo pipefail
seconds="${1:-20}"
[[ "$seconds" =~ ^[0-9]+$ ]] && ((seconds > 0)) || { echo "usage: tests/fuzz/run.sh [SECONDS]" >&2; exit 2; }

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
build="${VITBENCH_FUZZ_BUILD:-build-fuzz}"
out="${VITBENCH_FUZZ_OUT:-$build/fuzz-out}"
targets=(${VITBENCH_FUZZ_TARGETS:-fuzz_safetensors fuzz_config fuzz_model_folder fuzz_npy fuzz_golden_manifest fuzz_report fuzz_image})

cc="$(command -v clang || command -v clang-14 || true)"
cxx="$(command -v clang++ || command -v clang++-14 || true)"
if [ -z "$cc" ] || [ -z "$cxx" ]; then
  echo "tests/fuzz/run.sh: clang is required (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

echo "== fuzz: building ${#targets[@]} targets with $cxx in $build"
# Ninja for a new folder where it is installed, as ./run.sh builds: make builds the targets
# named one after another (its top-level Makefile is .NOTPARALLEL), one core idle for most of
# the 109 s that took.
generator=()
[ -f "$build/CMakeCache.txt" ] || ! command -v ninja >/dev/null || generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVITBENCH_FUZZ=ON -DVITBENCH_WERROR=ON \
  -DCMAKE_UNITY_BUILD=ON >/dev/null
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target "${targets[@]}"

# Leaks count (detect_leaks); allocations over 2 GiB are a reader trusting a header, reported
# rather than returned as null.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=0:malloc_limit_mb=2048"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# One target: fuzz it into a scratch corpus (the checked-in seeds are read only), leaving its log
# and its exit status in its work folder.
fuzz_one() {
  local t="$1" name="${1#fuzz_}"
  local seeds="tests/fuzz/corpus/$name" dict="tests/fuzz/dict/$name.dict" work="$out/$1"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -print_final_stats=1
              -artifact_prefix="$work/artifacts/")
  [ -f "$dict" ] && args+=(-dict="$dict")
  local status=0
  "$build/tests/fuzz/$t" "${args[@]}" "$work/corpus" "$seeds" >"$work/log" 2>&1 || status=$?
  echo "$status" >"$work/status"
}

# libFuzzer runs one process on one core: the targets run side by side, one per core.
parallel="${FUZZ_JOBS:-$(nproc)}"
echo "== fuzz: ${#targets[@]} targets for ${seconds}s each, $parallel at a time"
running=0
for t in "${targets[@]}"; do
  if ((running >= parallel)); then
    wait -n || true
    running=$((running - 1))
  fi
  fuzz_one "$t" &
  running=$((running + 1))
done
wait

failed=()
for t in "${targets[@]}"; do
  work="$out/$t"
  if [ "$(cat "$work/status" 2>/dev/null)" = 0 ]; then
    echo "$t: $(grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)" "$work/log" | tr '\n' ' ')"
  else
    failed+=("$t")
    echo "!! $t FAILED; the end of its log ($work/log):"
    tail -n 60 "$work/log"
    for a in "$work"/artifacts/*; do
      [ -e "$a" ] || continue
      echo "!! replay: $build/tests/fuzz/$t $a"
    done
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s each without a failure"
