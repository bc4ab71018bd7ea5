// vitbench bench: verify every backend, then time ops and whole models with Google Benchmark,
// write the report (reports/<host>-<cpu>-<UTC>.json) and print a summary. Thin: the work is
// bench::run_bench; this file maps flags onto its options.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/golden_verifier.h"
#include "bench/harness.h"
#include "bench/profiles.h"
#include "bench/registration.h"
#include "cli/commands.h"
#include "cli/option_checks.h"
#include "cli/simd_option.h"
#include "core/error.h"
#include "golden/manifest.h"

namespace vitbench::cli {
namespace {

struct BenchCliOptions {
  std::string profile = "default";
  std::vector<std::string> models, backends, ops, peers;
  std::vector<size_t> threads, batches;
  double min_time = 0;
  int repetitions = 0;
  uint64_t seed = 0;
  std::string reports_dir;
  std::string golden_dir;
  bool no_golden = false;
  bool ops_only = false;
  bool breakdown = false;
};

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchCliOptions>();
  o->golden_dir = golden::default_golden_dir();
  std::string profile_help = "Named defaults:";
  for (const bench::Profile& p : bench::profiles()) {
    profile_help += "\n  " + p.name + ": " + p.description;
  }
  CLI::App* sub = app.add_subcommand(
      "bench",
      "Verify every backend, then time whole models and ops (Google Benchmark); write a report "
      "to reports/ and print a summary. Google Benchmark's own --benchmark_* flags pass through.");
  sub->add_option("--profile", o->profile, profile_help)->capture_default_str();
  auto* models = sub->add_option("--models", o->models,
                                 "Presets (vit-ti16, vit-s16, vit-b16, vit-l16, @SIZE) or model "
                                 "folders, comma-separated")
                     ->delimiter(',');
  auto* backends =
      sub->add_option("--backends", o->backends,
                      "Backends, comma-separated (default: all; see `vitbench backends`). The "
                      "reference is timed on small models only")
          ->delimiter(',');
  auto* threads = sub->add_option("--threads", o->threads,
                                  "Thread counts, comma-separated (default: the machine's)")
                      ->delimiter(',')
                      ->check(thread_count());
  auto* batches = sub->add_option("--batch", o->batches, "Batch sizes, comma-separated")
                      ->delimiter(',')
                      ->check(positive_number());
  auto* ops = sub->add_option("--ops", o->ops,
                              "Ops to time alone, comma-separated: linear, layer_norm, gelu, "
                              "softmax, attention; `all`, or `none` for whole models only")
                  ->delimiter(',');
  sub->add_flag("--ops-only", o->ops_only, "Time the ops only, no whole models");
  auto* min_time = sub->add_option("--min-time", o->min_time,
                                   "Minimum seconds per repetition (Google Benchmark min_time)")
                       ->check(positive_number());
  auto* repetitions =
      sub->add_option("--repetitions", o->repetitions,
                      "Repetitions per benchmark; the report keeps each and their mean, median, "
                      "stddev and CV, and the summary quotes the median")
          ->check(positive_number());
  sub->add_option("--seed", o->seed, "Seed of the presets' synthetic weights")
      ->capture_default_str();
  sub->add_option("--reports-dir", o->reports_dir,
                  "Folder the report is written to (must exist; default: the source tree's "
                  "reports/)");
  sub->add_option("--golden", o->golden_dir,
                  "Golden cases to verify the backends on (when none are usable, each backend "
                  "is compared with the reference on the benchmarked models)")
      ->capture_default_str();
  sub->add_option("--peers", o->peers,
                  "Also time these runtimes on the same models, weights, input and threads, "
                  "after checking their logits against ours: torch, onnxruntime (optional "
                  "installs, bench/README.md \"Peers\"; one missing is skipped with a note)")
      ->delimiter(',');
  sub->add_flag("--breakdown", o->breakdown,
                "Also time the forward pass op by op (GEMMs by shape, attention, LayerNorm, ...) "
                "on the fastest backend, or on each of --backends, and report each op class's "
                "share and GFLOP/s or GB/s");
  sub->add_flag("--no-golden", o->no_golden,
                "Verify against the reference on the benchmarked models even when goldens exist");
  // Everything else must be a Google Benchmark flag (--benchmark_filter=..., --benchmark_out=...);
  // bench checks that and passes them on.
  auto simd = add_simd_option(sub);
  sub->allow_extras();

  return {sub, [o, sub, models, backends, threads, batches, ops, min_time, repetitions, simd] {
            if (!simd->empty() && !o->peers.empty()) {
              core::fail("--simd", "limits vitbench's own kernels only: the peers would still "
                                   "run at this CPU's full SIMD width (drop --peers or --simd)");
            }
            apply_simd_option(*simd);
            bench::Options options;
            options.profile = o->profile;
            if (models->count()) options.models = o->models;
            if (backends->count()) options.backends = o->backends;
            if (threads->count()) options.threads = o->threads;
            if (batches->count()) options.batches = o->batches;
            if (ops->count()) {
              std::vector<std::string> list;
              for (const std::string& op : o->ops) {
                if (op == "none") continue;
                if (op == "all") {
                  list = bench::op_names();
                  break;
                }
                list.push_back(op);
              }
              options.ops = list;
            }
            options.models_too = !o->ops_only;
            if (min_time->count()) options.min_time = o->min_time;
            if (repetitions->count()) options.repetitions = o->repetitions;
            options.seed = o->seed;
            options.reports_dir = o->reports_dir;
            options.peers = o->peers;
            options.breakdown = o->breakdown;
            options.benchmark_flags = sub->remaining();
            bench::Hooks hooks;
            if (!o->no_golden) hooks.golden = bench::make_golden_verifier(o->golden_dir);
            return bench::run_bench(options, hooks).exit_code;
          }};
}

}  // namespace vitbench::cli
