// `vitbench bench` as a library call: resolve the profile and flags, measure the machine's
// peaks, verify every backend, time those that passed, write the report, print the summary.
//
// Order matters: a backend is verified before it is timed, and a backend that fails is
// reported (with its figures) but never timed. The report is written once, whole, at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/backends.h"
#include "bench/peak.h"
#include "bench/peers.h"
#include "bench/verification.h"

namespace vitbench::bench {

struct Options {
  std::string profile = "default";
  // Each set field overrides the profile's.
  std::optional<std::vector<std::string>> models;
  std::optional<std::vector<std::string>> backends;  // default: every backend, reference included
  std::optional<std::vector<size_t>> threads;
  std::optional<std::vector<size_t>> batches;
  std::optional<std::vector<std::string>> ops;  // empty: whole models only
  std::optional<int> repetitions;
  std::optional<double> min_time;
  bool models_too = true;  // whole-model benchmarks as well as ops
  uint64_t seed = 0;       // presets' synthetic weights
  std::string reports_dir;  // empty: default_reports_dir()
  // Peers (bench/peers.h) timed after our benchmarks on every whole-model case of the run;
  // unknown names are refused before any work.
  std::vector<std::string> peers;
  // Per-op time breakdown (bench/breakdown.h) of each model at the run's first batch and
  // largest thread count: on the fastest backend by this run's medians, or on every backend
  // named with --backends.
  bool breakdown = false;
  // Google Benchmark flags passed through. --benchmark_out=FILE (JSON) gets a copy of the
  // report; --benchmark_repetitions sets the repetitions; --benchmark_list_tests lists the
  // benchmarks without verifying or running anything.
  std::vector<std::string> benchmark_flags;
};

struct Hooks {
  GoldenVerifier golden;                    // empty: verify against the reference
  std::vector<BenchBackend> extra_backends;  // selectable by name like registered ones (tests)
  std::vector<PeerSpec> extra_peers;         // selectable by name like built-in peers (tests)
  PeakOptions peak;
  std::ostream* log = nullptr;  // progress and steps; default std::cerr
  std::ostream* out = nullptr;  // the summary; default std::cout
  bool console = true;          // Google Benchmark's table on stdout
};

struct Outcome {
  // 0: everything verified and ran; 1: some backend failed verification, some benchmark
  // reported an error, or some peer's logits differed from ours or its runner failed (the
  // report is written all the same). A peer that is not installed changes nothing.
  int exit_code = 0;
  std::string report_path;  // empty when no report was written (listing only)
  nlohmann::json report;
  std::vector<Verification> verification;
  std::vector<PeerRun> peers;
};

// Throws core::Error for bad options (unknown model, backend, op, profile, flag; missing
// reports folder) before any long work starts.
Outcome run_bench(const Options& options, const Hooks& hooks = {});

}  // namespace vitbench::bench
