#include "bench/harness.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include <benchmark/benchmark.h>

#include "bench/breakdown.h"
#include "bench/machine_info.h"
#include "bench/profiles.h"
#include "bench/progress.h"
#include "bench/registration.h"
#include "bench/report.h"
#include "bench/summary.h"
#include "bench/text_table.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/flops.h"
#include "core/weights.h"
#include "optimized/hwy/kernels.h"
#include "optimized/thread_pool.h"

namespace vitbench::bench {
namespace {

template <typename T>
std::string join(const std::vector<T>& items, const char* sep = ", ") {
  std::string s;
  for (const T& item : items) {
    if (!s.empty()) s += sep;
    if constexpr (std::is_same_v<T, std::string>) {
      s += item;
    } else {
      s += std::to_string(item);
    }
  }
  return s;
}

// What bench does with Google Benchmark's flags before passing the rest through.
struct FlagPlan {
  std::vector<std::string> pass;  // to Google Benchmark, after bench's defaults
  std::string out_copy;           // --benchmark_out=FILE in JSON: bench writes the report there
  std::optional<int> repetitions;
  std::optional<bool> display_aggregates_only;
  bool list_only = false;
};

bool parse_bool(const std::string& flag, const std::string& value) {
  if (value.empty() || value == "true" || value == "1" || value == "yes") return true;
  if (value == "false" || value == "0" || value == "no") return false;
  core::fail(flag, "expected true or false, got \"" + value + "\"");
}

FlagPlan plan_flags(const std::vector<std::string>& flags) {
  FlagPlan plan;
  std::string out, out_format;
  for (const std::string& f : flags) {
    if (f.rfind("--benchmark_", 0) != 0 && f.rfind("--v=", 0) != 0) {
      core::fail("vitbench bench", "\"" + f +
                                       "\" is not a Google Benchmark flag (they start with "
                                       "--benchmark_, e.g. --benchmark_filter=hwy)");
    }
    const auto eq = f.find('=');
    const std::string name = f.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : f.substr(eq + 1);
    if (name == "--benchmark_out") {
      out = value;
    } else if (name == "--benchmark_out_format") {
      out_format = value;
    } else if (name == "--benchmark_repetitions") {
      try {
        plan.repetitions = std::stoi(value);
      } catch (const std::exception&) {
        core::fail(name, "expected a positive integer, got \"" + value + "\"");
      }
      if (*plan.repetitions < 1) core::fail(name, "expected a positive integer");
    } else if (name == "--benchmark_display_aggregates_only") {
      plan.display_aggregates_only = parse_bool(name, value);
    } else {
      if (name == "--benchmark_list_tests") plan.list_only = parse_bool(name, value);
      plan.pass.push_back(f);
    }
  }
  if (!out.empty()) {
    if (out_format.empty() || out_format == "json") {
      plan.out_copy = out;
    } else {
      // Console or CSV output is Google Benchmark's own business.
      plan.pass.push_back("--benchmark_out=" + out);
      plan.pass.push_back("--benchmark_out_format=" + out_format);
    }
  } else if (!out_format.empty()) {
    plan.pass.push_back("--benchmark_out_format=" + out_format);
  }
  return plan;
}

// Each peer on every whole-model case of the plan (model × batch × threads), checked against the
// logits of our first verified optimized backend (the reference only when none passed) on the
// very images our benchmarks use.
std::vector<PeerRun> run_peers(const std::vector<PeerSpec>& peers,
                               const std::vector<const ModelUnderTest*>& models,
                               const std::vector<const BenchBackend*>& passed,
                               const PlanOptions& plan, uint64_t seed, size_t machine_threads,
                               std::ostream& log, std::vector<std::string>& notes) {
  std::vector<PeerRun> runs;
  if (!plan.models) {
    notes.push_back("peers: not run (they time whole models, and this run times ops only)");
    return runs;
  }
  const BenchBackend* check = nullptr;
  for (const BenchBackend* b : passed) {
    if (!b->is_reference) {
      check = b;
      break;
    }
  }
  if (!check && !passed.empty()) check = passed.front();
  if (!check) {
    notes.push_back("peers: not run (no backend passed verification, so no logits of ours to "
                    "check them against)");
    return runs;
  }
  for (const ModelUnderTest* m : models) {
    for (size_t batch : plan.batches) {
      const core::Tensor images = core::generate_images(m->model.config, batch, plan.input_seed);
      core::Tensor logits = check->prepare(m->model, machine_threads)->forward(images, nullptr);
      for (size_t threads : plan.threads) {
        for (const PeerSpec& peer : peers) {
          log << format("peer %s: %s, batch %zu, %zu thread(s) ...", peer.name.c_str(),
                        m->id.c_str(), batch, threads)
              << std::flush;
          PeerRequest request;
          request.model = m;
          request.weight_seed = seed;
          request.batch = batch;
          request.threads = threads;
          request.images = &images;
          request.expected_logits = &logits;
          request.checked_against = check->name;
          request.repetitions = plan.repetitions;
          request.min_time = plan.min_time;
          request.warmup_min_time = plan.min_time;
          request.tolerance = kLogitTolerance;
          const auto t0 = std::chrono::steady_clock::now();
          PeerRun run = run_peer(peer, request);
          log << " " << to_string(run.status) << ": " << run.message
              << format(" (%.1f s)", std::chrono::duration<double>(
                                         std::chrono::steady_clock::now() - t0)
                                         .count())
              << std::endl;
          if (run.status != PeerStatus::Timed) {
            notes.push_back(format("peer:%s on %s b%zu t%zu: ", peer.name.c_str(), m->id.c_str(),
                                   batch, threads) +
                            to_string(run.status) + ": " + run.message);
          }
          runs.push_back(std::move(run));
        }
      }
    }
  }
  return runs;
}

// The backend to break down: the fastest of ours on this model, batch and threads by the run's
// medians (single repetitions when there are no aggregates), else the first verified one with
// a kernel set.
const BenchBackend* fastest_backend(const nlohmann::json& report, const std::string& model,
                                    size_t batch, size_t threads,
                                    const std::vector<const BenchBackend*>& candidates) {
  const BenchBackend* best = nullptr;
  double best_ms = 0;
  bool best_median = false;
  for (const nlohmann::json& run : report["benchmarks"]) {
    ParsedName p;
    if (!parse_benchmark_name(run.value("name", std::string()), &p) || p.kind != "model" ||
        p.model != model || p.batch != batch || p.threads != threads ||
        run.value("error_occurred", false)) {
      continue;
    }
    const std::string type = run.value("run_type", std::string());
    const bool median =
        type == "aggregate" && run.value("aggregate_name", std::string()) == "median";
    if (type == "aggregate" && !median) continue;
    for (const BenchBackend* b : candidates) {
      if (b->name != p.backend) continue;
      const double ms = run.value("real_time", 0.0);
      if (ms <= 0) continue;
      // Medians outrank single repetitions; among equals, the lower time wins.
      if (!best || (median && !best_median) || (median == best_median && ms < best_ms)) {
        best = b;
        best_ms = ms;
        best_median = median;
      }
    }
  }
  return best ? best : (candidates.empty() ? nullptr : candidates.front());
}

std::vector<size_t> resolve_threads(std::vector<size_t> threads, size_t machine) {
  for (size_t& t : threads) {
    if (t == 0) t = machine;
  }
  std::vector<size_t> out;
  for (size_t t : threads) {
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  return out;
}

}  // namespace

Outcome run_bench(const Options& options, const Hooks& hooks) {
  std::ostream& log = hooks.log ? *hooks.log : std::cerr;
  std::ostream& out = hooks.out ? *hooks.out : std::cout;
  const auto started = std::chrono::steady_clock::now();
  const Profile& profile = find_profile(options.profile);

  // ---- Everything that can be refused is refused before any long work. ----
  const CpuInfo cpu = cpu_info();
  const size_t machine_threads = std::max<size_t>(cpu.available, 1);
  const std::vector<std::string> model_names = options.models.value_or(profile.models);
  if (model_names.empty()) core::fail("--models", "no model given");
  const std::vector<size_t> threads =
      resolve_threads(options.threads.value_or(profile.threads), machine_threads);
  const std::vector<size_t> batches = options.batches.value_or(profile.batches);
  for (size_t b : batches) {
    if (b == 0) core::fail("--batch", "batch sizes must be positive");
  }
  if (threads.empty()) core::fail("--threads", "no thread count given");
  for (size_t t : threads) {
    if (t > optimized::kMaxThreads) {
      core::fail("--threads", "at most " + std::to_string(optimized::kMaxThreads) + ", not " +
                                  std::to_string(t));
    }
  }
  if (batches.empty()) core::fail("--batch", "no batch size given");
  const FlagPlan flags = plan_flags(options.benchmark_flags);

  PlanOptions plan_options;
  plan_options.threads = threads;
  plan_options.batches = batches;
  plan_options.ops = options.ops.value_or(profile.ops);
  plan_options.models = options.models_too;
  plan_options.repetitions = flags.repetitions.value_or(options.repetitions.value_or(profile.repetitions));
  plan_options.min_time = options.min_time.value_or(profile.min_time);
  for (const std::string& op : plan_options.ops) {
    if (std::find(op_names().begin(), op_names().end(), op) == op_names().end()) {
      core::fail("--ops", "unknown op \"" + op + "\" (known: " + join(op_names()) + ")");
    }
  }
  if (!plan_options.models && plan_options.ops.empty()) {
    core::fail("--ops-only", "no ops to time (give --ops)");
  }
  if (plan_options.repetitions < 1) core::fail("--repetitions", "must be at least 1");
  if (!(plan_options.min_time > 0)) core::fail("--min-time", "must be positive");

  std::vector<BenchBackend> backends;
  for (const std::string& name : options.backends.value_or(all_backend_names())) {
    auto extra = std::find_if(hooks.extra_backends.begin(), hooks.extra_backends.end(),
                              [&](const BenchBackend& b) { return b.name == name; });
    backends.push_back(extra != hooks.extra_backends.end() ? *extra : find_bench_backend(name));
  }
  if (backends.empty()) core::fail("--backends", "no backend given");
  std::vector<PeerSpec> peers;
  for (const std::string& name : options.peers) {
    auto extra = std::find_if(hooks.extra_peers.begin(), hooks.extra_peers.end(),
                              [&](const PeerSpec& p) { return p.name == name; });
    PeerSpec spec = extra != hooks.extra_peers.end() ? *extra : find_peer(name);
    auto same = [&](const PeerSpec& p) { return p.name == name; };
    if (std::none_of(peers.begin(), peers.end(), same)) {
      peers.push_back(std::move(spec));
    }
  }
  if (options.breakdown && options.backends) {
    for (const BenchBackend& b : backends) {
      if (!b.kernels) {
        core::fail("--breakdown",
                   "backend \"" + b.name +
                       "\" has no kernel set to break down (drop it from --backends)");
      }
    }
  }

  const std::string reports_dir =
      options.reports_dir.empty() ? default_reports_dir() : options.reports_dir;
  if (!flags.list_only) {
    core::require_output_folder(reports_dir + "/report.json");
    if (!flags.out_copy.empty()) core::require_output_folder(flags.out_copy);
  }

  // Google Benchmark's flags: bench's defaults, then every flag that could linger from an
  // earlier run in this process reset, then the user's (later flags win).
  std::vector<std::string> gb_flags = {
      format("--benchmark_min_time=%g", plan_options.min_time),
      "--benchmark_filter=.",
      "--benchmark_list_tests=false",
      "--benchmark_out=",
      "--benchmark_out_format=json",
      "--benchmark_enable_random_interleaving=false",
      "--benchmark_report_aggregates_only=false",
      "--benchmark_repetitions=1",
  };
  gb_flags.insert(gb_flags.end(), flags.pass.begin(), flags.pass.end());
  GbRunOptions gb;
  gb.flags = gb_flags;
  gb.console = hooks.console;
  gb.display_aggregates_only = flags.display_aggregates_only.value_or(true);
  initialize_google_benchmark(gb.flags);  // refuses unknown flags before minutes of work

  log << "vitbench bench: profile " << profile.name << "; models " << join(model_names)
      << "; backends ";
  for (size_t i = 0; i < backends.size(); ++i) log << (i ? ", " : "") << backends[i].name;
  log << "; threads " << join(threads) << "; batch " << join(batches) << "; ops "
      << (plan_options.ops.empty() ? "none" : join(plan_options.ops)) << "; ";
  if (!peers.empty()) {
    log << "peers ";
    for (size_t i = 0; i < peers.size(); ++i) log << (i ? ", " : "") << peers[i].name;
    log << "; ";
  }
  if (options.breakdown) log << "breakdown; ";
  log << plan_options.repetitions << " repetitions of at least " << plan_options.min_time
      << " s" << std::endl;

  // Said before the minutes of work, and again in the summary beside the figures it affects.
  const core::SchedulingInfo scheduling = scheduling_info();
  const std::string throttle = core::rt_throttle_note(scheduling);
  if (!throttle.empty()) log << "note: " << throttle << std::endl;

  // Models: loaded once, shared by verification and every benchmark.
  std::vector<std::unique_ptr<ModelUnderTest>> models;
  for (const std::string& name : model_names) {
    log << "loading " << name << " (seed " << options.seed << ")" << std::endl;
    models.push_back(std::make_unique<ModelUnderTest>(load_model_under_test(name, options.seed)));
  }
  std::vector<const ModelUnderTest*> model_ptrs;
  for (const auto& m : models) model_ptrs.push_back(m.get());

  Outcome outcome;
  if (flags.list_only) {
    std::vector<const BenchBackend*> all;
    for (const BenchBackend& b : backends) all.push_back(&b);
    Plan plan = plan_benchmarks(model_ptrs, all, plan_options);
    register_benchmarks(plan, Peaks{}, plan_options.repetitions, nullptr);
    run_google_benchmark(gb);
    return outcome;
  }

  // ---- The machine's ceilings. ----
  std::vector<size_t> peak_threads = {1, machine_threads};
  peak_threads.insert(peak_threads.end(), threads.begin(), threads.end());
  log << "measuring the FMA peak (Highway target " << optimized::hwy::chosen_target()
      << ", as the kernels) and DRAM bandwidth" << std::endl;
  const Peaks peaks = measure_peaks(peak_threads, last_level_cache_bytes(cpu), hooks.peak);
  for (const auto& [t, g] : peaks.fma_gflops) {
    const auto bw = peaks.bandwidth_gbs.find(t);
    log << format("  %zu thread(s): FMA peak %.1f GFLOP/s, DRAM %.1f GB/s", t, g,
                  bw == peaks.bandwidth_gbs.end() ? 0.0 : bw->second)
        << std::endl;
  }

  // ---- Verification first. ----
  std::map<const ModelUnderTest*, std::unique_ptr<ReferenceRun>> reference_runs;
  auto reference_for = [&](const ModelUnderTest* m) -> const ReferenceRun* {
    auto& run = reference_runs[m];
    if (!run) {
      // Two images catch a batch-indexing bug; past ~10 GFLOP per image the float64 reference
      // costs too much of the default run's budget (ViT-B: about a minute for one image on 2
      // cores), and one image must do: golden cases cover batches there.
      const double gflop = core::flops::model_per_image(m->model.config) * 1e-9;
      const size_t batch = gflop <= 10 ? 2 : 1;
      log << format("  reference forward of %s, %zu image(s), %.1f GFLOP in float64 ...",
                    m->id.c_str(), batch, gflop * static_cast<double>(batch))
          << std::flush;
      const auto t0 = std::chrono::steady_clock::now();
      run = std::make_unique<ReferenceRun>(run_reference(*m, batch, 1, machine_threads));
      log << format(" %.1f s",
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count())
          << std::endl;
    }
    return run.get();
  };
  // A backend with nothing to time in this run (the reference, on models too big for it) is
  // not verified either: its verification would cost time and tell the report nothing.
  std::vector<const BenchBackend*> all_backends;
  for (const BenchBackend& b : backends) all_backends.push_back(&b);
  const Plan probe = plan_benchmarks(model_ptrs, all_backends, plan_options);
  std::set<std::string> timed;
  for (const auto& c : probe.cases) timed.insert(c->info().backend);
  std::vector<std::string> notes = probe.skipped;
  if (!throttle.empty()) notes.push_back("scheduling: " + throttle);

  log << "verifying " << timed.size() << " backend(s) before timing them" << std::endl;
  std::vector<const BenchBackend*> passed;
  bool any_failed = false;
  for (const BenchBackend& b : backends) {
    if (!timed.count(b.name)) {
      const std::string note = b.name + ": nothing to time in this run, so not verified";
      log << "  " << note << std::endl;
      notes.push_back(note);
      continue;
    }
    std::optional<Verification> v;
    if (hooks.golden) v = hooks.golden(b, machine_threads);
    if (!v) {
      std::vector<const ReferenceRun*> runs;
      if (!b.is_reference) {
        for (const ModelUnderTest* m : model_ptrs) runs.push_back(reference_for(m));
      }
      v = verify_against_reference(b, runs, machine_threads);
    }
    log << "  " << b.name << ": " << v->summary << std::endl;
    if (v->passed) {
      passed.push_back(&b);
    } else {
      any_failed = true;
    }
    outcome.verification.push_back(std::move(*v));
  }
  reference_runs.clear();

  // ---- Timing. ----
  Plan plan = plan_benchmarks(model_ptrs, passed, plan_options);
  estimate_durations(plan, peaks, plan_options);
  for (const std::string& s : probe.skipped) log << "  " << s << std::endl;
  Progress progress(plan, log);
  bool filter_read = false;
  register_benchmarks(plan, peaks, plan_options.repetitions, [&](size_t index) {
    if (!filter_read) {
      progress.set_filter(benchmark::GetBenchmarkFilter());
      filter_read = true;
    }
    // One case's buffers and packed weights at a time.
    for (size_t i = 0; i < plan.cases.size(); ++i) {
      if (i != index) plan.cases[i]->release();
    }
    progress.start(index);
  });
  double estimated = 0;
  for (const auto& c : plan.cases) estimated += c->info().estimated_seconds;
  log << "timing " << plan.cases.size() << " benchmark(s), about " << format_duration(estimated)
      << std::endl;
  const auto when = std::chrono::system_clock::now();
  nlohmann::json report = run_google_benchmark(gb);
  for (auto& c : plan.cases) c->release();
  if (!plan.cases.empty() && report["benchmarks"].empty()) {
    // Every backend failing verification still earns a report (its figures); a filter that
    // matches nothing is a mistake in the command.
    core::fail("--benchmark_filter", "no benchmark matches \"" + benchmark::GetBenchmarkFilter() +
                                         "\" (see --benchmark_list_tests)");
  }

  // ---- Peers, after our benchmarks so neither disturbs the other. ----
  if (!peers.empty()) {
    outcome.peers = run_peers(peers, model_ptrs, passed, plan_options, options.seed,
                              machine_threads, log, notes);
    int family = 0;
    for (const nlohmann::json& run : report["benchmarks"]) {
      family = std::max(family, run.value("family_index", -1) + 1);
    }
    for (const PeerRun& run : outcome.peers) {
      const ModelUnderTest* m = nullptr;
      for (const ModelUnderTest* candidate : model_ptrs) {
        if (candidate->id == run.model) m = candidate;
      }
      if (!m || run.status != PeerStatus::Timed) continue;
      const double flops =
          core::flops::model_per_image(m->model.config) * static_cast<double>(run.batch);
      for (nlohmann::json& entry :
           peer_benchmark_entries(run, flops, peaks.fma_for(run.threads), family++)) {
        report["benchmarks"].push_back(std::move(entry));
      }
    }
  }

  // ---- Breakdown, last: it times one backend alone, after everything else. ----
  std::vector<Breakdown> breakdowns;
  if (options.breakdown) {
    std::vector<const BenchBackend*> candidates;
    for (const BenchBackend* b : passed) {
      if (b->kernels) candidates.push_back(b);
    }
    const size_t batch = plan_options.batches.front();
    const size_t t = *std::max_element(plan_options.threads.begin(), plan_options.threads.end());
    for (const ModelUnderTest* m : model_ptrs) {
      std::vector<const BenchBackend*> chosen;
      if (options.backends) {
        chosen = candidates;
      } else if (const BenchBackend* b = fastest_backend(report, m->id, batch, t, candidates)) {
        chosen.push_back(b);
      }
      if (chosen.empty()) {
        notes.push_back("breakdown of " + m->id + ": no verified backend with a kernel set");
      }
      for (const BenchBackend* b : chosen) {
        log << format("breakdown: %s on %s, batch %zu, %zu thread(s) ...", m->id.c_str(),
                      b->name.c_str(), batch, t)
            << std::flush;
        breakdowns.push_back(measure_breakdown(*m, *b, batch, t, peaks,
                                               plan_options.min_time * plan_options.repetitions,
                                               plan_options.input_seed));
        log << format(" %zu forwards of %.1f ms", breakdowns.back().forwards,
                      breakdowns.back().seconds_per_forward * 1e3)
            << std::endl;
      }
    }
  }

  ContextInputs inputs;
  inputs.cpu = cpu;
  inputs.peaks = peaks;
  inputs.verification = outcome.verification;
  inputs.thread_counts = threads;
  inputs.profile = profile.name;
  inputs.scheduling = scheduling;
  add_vitbench_context(report, vitbench_context(inputs));
  if (!outcome.peers.empty()) report["context"]["vitbench"]["peers"] = peers_context(outcome.peers);
  if (!breakdowns.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const Breakdown& b : breakdowns) list.push_back(to_json(b));
    report["context"]["vitbench"]["breakdown"] = list;
  }

  outcome.report_path = write_report(report, reports_dir, host_name(), cpu.model, when);
  notes.push_back("report: " + outcome.report_path);
  if (!flags.out_copy.empty()) {
    core::write_file_atomically(flags.out_copy, report.dump(2) + "\n");
    notes.push_back("copy: " + flags.out_copy);
  }
  bool any_error = false;
  for (const nlohmann::json& run : report["benchmarks"]) {
    if (run.value("error_occurred", false)) any_error = true;
  }
  notes.push_back("finished in " +
                  format_duration(std::chrono::duration<double>(
                                      std::chrono::steady_clock::now() - started)
                                      .count()));
  out << format_summary(report, notes);
  for (const Breakdown& b : breakdowns) out << format_breakdown(b);
  out << std::flush;
  outcome.report = std::move(report);
  const bool peer_failed =
      std::any_of(outcome.peers.begin(), outcome.peers.end(), [](const PeerRun& r) {
        return r.status == PeerStatus::Mismatch || r.status == PeerStatus::Failed;
      });
  outcome.exit_code = any_failed || any_error || peer_failed ? 1 : 0;
  return outcome;
}

}  // namespace vitbench::bench
