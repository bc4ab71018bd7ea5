#!/usr/bin/env bash
# vitbench quick start. On a fresh Debian 12 machine (as root, or with sudo) it installs the
# Debian packages that are missing, builds, and then:
#   ./run.sh           the main job: verify every backend, benchmark, write a report (see README)
#   ./run.sh test      the whole test suite (what CI runs): a Release build with warnings as
#                      errors and its tests, the same suite under AddressSanitizer + UBSan, and
#                      every fuzz target for 20 seconds
#   ./run.sh asan      only the AddressSanitizer + UBSan part
set -euo pipefail
cd "$(dirname "$0")"

mode="${1:-main}"
case "$mode" in
  main | test | asan) ;;
  *) echo "usage: ./run.sh [test|asan]" >&2; exit 2 ;;
esac

packages=(g++ cmake make ninja-build pkg-config git ca-certificates
          libblis-dev libhwy-dev nlohmann-json3-dev libbenchmark-dev libgtest-dev libcli11-dev libstb-dev)
if [ "$mode" != main ]; then
  # The tests' own tools: clang's libFuzzer and sanitizer runtimes (tests/fuzz), Chromium for the
  # dashboard's browser test, jsonschema for checking reports against reports/schema, numpy for
  # the tests that read our .npy and safetensors files with it and run the golden generator's
  # Python twin of the seeded weights.
  packages+=(clang libclang-rt-14-dev chromium python3-jsonschema python3-numpy)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing missing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

jobs="$(nproc)"
# Each phase's start, in minutes and seconds since the script began: what CI's 20-minute budget
# is spent on.
phase() { printf '== [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }
# Unity builds: several files per compiler run, which cuts a clean build's time by about 40%
# (CMakeLists.txt says why). Ninja rather than Makefiles for a new build folder: it keeps both
# cores busy across targets where make leaves one idle behind a target's dependencies (a clean
# Release build 2m41s against 3m12s; README, "Quick start"). A folder configured before keeps
# the generator it has, as CMake requires.
build() {  # build DIR TARGET [cmake options...]   (TARGET all: everything, the tests included)
  local dir="$1" target="$2"; shift 2
  local generator=()
  [ -f "$dir/CMakeCache.txt" ] || generator=(-G Ninja)
  cmake -S . -B "$dir" "${generator[@]}" -DVITBENCH_WERROR=ON -DCMAKE_UNITY_BUILD=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" --target "$target"
}

# Tests that call python3 want Debian's, which sees the python3-* packages installed above (a
# python3 from pyenv or a virtualenv earlier in PATH would not).
[ "$mode" = main ] || export PATH="/usr/bin:$PATH"

asan_suite() {
  phase "AddressSanitizer + UBSan build, warnings as errors"
  build build-asan all -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVITBENCH_SANITIZE=ON
  # Every test but the two labelled slow: the float64 reference through ViT-S and ViT-B (50 s
  # of the sanitizers' CPU for the loops ViT-Ti's golden case already runs under them), which
  # the Release pass runs; they kept `./run.sh test` over 20 minutes on 2 cores.
  phase "test suite (ASan + UBSan)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE slow
}

if [ "$mode" = test ]; then
  phase "Release build, warnings as errors"
  build build all
  phase "test suite (Release)"
  ctest --test-dir build --output-on-failure -j"$jobs"
  asan_suite
  phase "fuzz: every reader's target for 20 s"
  tests/fuzz/run.sh 20
  phase "done"
elif [ "$mode" = asan ]; then
  asan_suite
else
  build build vitbench  # the main job needs the command only; `./run.sh test` builds the rest
  # The main job: verify every backend against the goldens, benchmark the default model on every
  # backend at this machine's thread count, write the report to reports/, print the summary.
  ./build/cli/vitbench bench
fi
