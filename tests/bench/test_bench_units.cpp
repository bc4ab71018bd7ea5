// The harness's parts, each alone: names, counters' inputs, verification verdicts, the summary,
// the machine description, the peaks.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bench/backends.h"
#include "bench/machine_info.h"
#include "bench/peak.h"
#include "bench/profiles.h"
#include "bench/registration.h"
#include "bench/report.h"
#include "bench/summary.h"
#include "bench/text_table.h"
#include "bench/tool_scheduling.h"
#include "bench/tool_threads.h"
#include "bench/verification.h"
#include "bench_test_util.h"
#include "core/error.h"

namespace vitbench::bench {
namespace {

using nlohmann::json;

TEST(ToolThreads, ParsesListsAndDropsRepeats) {
  EXPECT_EQ(parse_thread_counts("1", "tool"), (std::vector<size_t>{1}));
  EXPECT_EQ(parse_thread_counts("1,16,4,16", "tool"), (std::vector<size_t>{1, 16, 4}));
}

TEST(ToolThreads, RefusesWhatIsNotAThreadCount) {
  for (const char* bad : {"", "0", "-1", "1,", ",2", "2x", "x", "1,,2", " 5", "+5", "1025",
                          "99999999999999999999"}) {
    ::testing::internal::CaptureStderr();
    EXPECT_TRUE(parse_thread_counts(bad, "tool").empty()) << bad;
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("tool: --threads:"), std::string::npos) << bad;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
}

TEST(ToolThreads, TakesTheFlagOutOfArgvAndDefaultsToOneAndTheMachine) {
  char prog[] = "tool", filter[] = "--benchmark_filter=x", flag[] = "--threads=3,1";
  char* argv[] = {prog, filter, flag, nullptr};
  int argc = 3;
  EXPECT_EQ(take_thread_counts(argc, argv, "tool"), (std::vector<size_t>{3, 1}));
  ASSERT_EQ(argc, 2);
  EXPECT_STREQ(argv[1], "--benchmark_filter=x");
  EXPECT_EQ(argv[2], nullptr);

  char* plain[] = {prog, nullptr};
  int one = 1;
  const std::vector<size_t> fallback = take_thread_counts(one, plain, "tool");
  ASSERT_FALSE(fallback.empty());
  EXPECT_EQ(fallback.front(), 1u);
  EXPECT_EQ(fallback.back(), available_cpus());
  EXPECT_EQ(fallback.size(), available_cpus() > 1 ? 2u : 1u);

  char bad[] = "--threads=0";
  char* refused[] = {prog, bad, nullptr};
  int two = 2;
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(take_thread_counts(two, refused, "tool").empty());
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("'0'"), std::string::npos);
}

TEST(ReportName, IsHostCpuAndUtcTimestamp) {
  // 2024-03-05 06:07:08 UTC
  const auto when = std::chrono::system_clock::from_time_t(1709618828);
  EXPECT_EQ(report_file_name("build-01", "AMD EPYC 7B13 64-Core Processor", when),
            "build-01-AMD-EPYC-7B13-64-Core-Processor-20240305T060708Z.json");
  EXPECT_EQ(report_file_name("h/../x", "Intel(R) Xeon(R) @ 2.20GHz", when),
            "h-..-x-Intel-R-Xeon-R-2.20GHz-20240305T060708Z.json");
  EXPECT_EQ(sanitize_name_part(""), "unknown");
  EXPECT_EQ(sanitize_name_part("../.."), "unknown");
}

TEST(ReportName, NeverOverwritesAReportOfTheSameSecond) {
  testing::TempDir dir;
  const auto when = std::chrono::system_clock::from_time_t(1709618828);
  const json report = {{"benchmarks", json::array()}};
  const std::string a = write_report(report, dir.path(), "h", "cpu", when);
  const std::string b = write_report(report, dir.path(), "h", "cpu", when);
  EXPECT_NE(a, b);
  EXPECT_EQ(testing::files_in(dir.path()).size(), 2u);
  EXPECT_THROW(write_report(report, dir / "missing", "h", "cpu", when), core::Error);
}

TEST(BenchmarkNames, ParseTheFormatAndDropGoogleBenchmarkSuffixes) {
  ParsedName p;
  ASSERT_TRUE(parse_benchmark_name("model/vit-b16@224/b8/t2/hwy/repeats:5_median", &p));
  EXPECT_EQ(p.kind, "model");
  EXPECT_EQ(p.model, "vit-b16@224");
  EXPECT_EQ(p.batch, 8u);
  EXPECT_EQ(p.threads, 2u);
  EXPECT_EQ(p.backend, "hwy");
  ASSERT_TRUE(parse_benchmark_name("op/linear/vit-b16@224/197x2304x768/t1/blis/real_time", &p));
  EXPECT_EQ(p.kind, "op");
  EXPECT_EQ(p.op, "linear");
  EXPECT_EQ(p.shape, "197x2304x768");
  EXPECT_EQ(p.threads, 1u);
  EXPECT_EQ(p.backend, "blis");
  EXPECT_FALSE(parse_benchmark_name("BM_Something/8", &p));
  EXPECT_FALSE(parse_benchmark_name("model/x/bb/t2/hwy", &p));
}

TEST(ModelId, HasNoSlashAndCarriesTheImageSize) {
  core::Config c = core::preset_config("vit-b16@384");
  EXPECT_EQ(model_id("vit-b16@384", c), "vit-b16@384");
  c = core::preset_config("vit-ti16");
  EXPECT_EQ(model_id("vit-ti16", c), "vit-ti16@224");
  EXPECT_EQ(model_id("/models/my vit/", c), "my_vit@224");
}

TEST(Plan, NamesFollowTheReportFormat) {
  testing::TempDir dir;
  ModelUnderTest m = load_model_under_test(testing::write_tiny_model(dir.path()), 0);
  BenchBackend hwy = find_bench_backend("hwy");
  BenchBackend ref = find_bench_backend("reference");
  PlanOptions o;
  o.threads = {1, 2};
  o.batches = {1, 3};
  o.ops = op_names();
  const Plan plan = plan_benchmarks({&m}, {&hwy, &ref}, o);
  const std::regex model_re("model/tiny@32/b[13]/t[12]/(hwy|reference)");
  const std::regex op_re(
      "op/(linear/tiny@32/[0-9]+x[0-9]+x[0-9]+|layer_norm/tiny@32/[0-9]+x32|gelu/tiny@32/"
      "[0-9]+x64|softmax/tiny@32/[0-9]+x17|attention/tiny@32/17x2x16)/t[12]/hwy");
  size_t models = 0, ops = 0;
  std::set<std::string> names;
  for (const auto& c : plan.cases) {
    const CaseInfo& i = c->info();
    EXPECT_TRUE(names.insert(i.name).second) << "duplicate " << i.name;
    EXPECT_GT(i.flops, 0) << i.name;
    if (i.kind == CaseKind::Model) {
      ++models;
      EXPECT_TRUE(std::regex_match(i.name, model_re)) << i.name;
      EXPECT_EQ(i.fixed_iterations, i.backend == "reference") << i.name;
    } else {
      ++ops;
      EXPECT_TRUE(std::regex_match(i.name, op_re)) << i.name;
      EXPECT_EQ(i.bytes > 0, i.op == "layer_norm" || i.op == "gelu" || i.op == "softmax")
          << i.name;
    }
  }
  EXPECT_EQ(models, 2u * 2u * 2u);  // backends × threads × batches
  // Per thread count: linear shapes (6 per batch, the patch embedding and proj share one) ... at
  // least every op appears for both thread counts.
  for (const std::string& op : op_names()) {
    for (const char* t : {"/t1/", "/t2/"}) {
      bool found = false;
      for (const std::string& n : names) {
        found |= n.rfind("op/" + op + "/", 0) == 0 && n.find(t) != std::string::npos;
      }
      EXPECT_TRUE(found) << op << t;
    }
  }
  EXPECT_GT(ops, 0u);

  // The reference is timed on small models only.
  o.ops.clear();
  o.reference_max_gflop = 1e-9;
  const Plan small = plan_benchmarks({&m}, {&ref}, o);
  EXPECT_TRUE(small.cases.empty());
  EXPECT_EQ(small.skipped.size(), 4u);

  o.ops = {"matmul"};
  EXPECT_THROW(plan_benchmarks({&m}, {&hwy}, o), core::Error);
}

TEST(Verification, LogitsWithinToleranceAndSameTop1Pass) {
  core::TensorD expected({2, 4});
  const double rows[2][4] = {{1.0, 5.0, -2.0, 0.5}, {3.0, -1.0, 0.0, 2.0}};
  for (size_t i = 0; i < 8; ++i) expected[i] = rows[i / 4][i % 4];
  core::TensorD actual = expected;
  actual[0] += 5.0 * 1e-3;  // within 2e-3 of max|logit| = 5
  EXPECT_TRUE(check_logits(actual, expected).passed);

  actual = expected;
  actual[0] += 5.0 * 3e-3;  // beyond
  const LogitCheck far = check_logits(actual, expected);
  EXPECT_FALSE(far.passed);
  EXPECT_NEAR(far.figures["max_rel_error"].get<double>(), 3e-3, 1e-12);

  actual = expected;
  actual[5] = 10;  // row 1's top-1 moves to class 1 (and the error is huge)
  EXPECT_FALSE(check_logits(actual, expected).passed);

  actual = expected;
  actual[1] = std::nan("");
  EXPECT_FALSE(check_logits(actual, expected).passed);
}

TEST(Verification, NearTiesDoNotDecideTop1) {
  // Row 0's two best classes are 1e-3·max apart: inside twice the tolerance, so a swap within
  // the tolerance is not a failure; the row is counted as ambiguous.
  core::TensorD expected({1, 3});
  expected[0] = 5.0;
  expected[1] = 5.0 - 5e-3;
  expected[2] = 0.0;
  core::TensorD actual = expected;
  actual[0] -= 4e-3;
  actual[1] += 4e-3;
  const LogitCheck c = check_logits(actual, expected);
  EXPECT_TRUE(c.passed);
  EXPECT_EQ(c.ambiguous_rows, 1u);
  EXPECT_EQ(c.top1_checked, 0u);
}

TEST(Verification, AgainstTheReferenceCatchesAWrongBackendAndNamesTheTap) {
  testing::TempDir dir;
  ModelUnderTest m = load_model_under_test(testing::write_tiny_model(dir.path()), 0);
  const ReferenceRun run = run_reference(m, 2, 1, 1);
  BenchBackend hwy = find_bench_backend("hwy");
  const Verification good = verify_against_reference(hwy, {&run}, 2);
  EXPECT_TRUE(good.passed) << good.summary;
  EXPECT_EQ(good.source, "reference");
  ASSERT_EQ(good.cases.size(), 1u);
  EXPECT_TRUE(good.cases[0]["first_failing_tap"].is_null());
  EXPECT_EQ(good.cases[0]["logits"]["rows"], 2);

  // A backend whose patch embedding is wrong fails at the first tap, embed.
  core::Model broken = m.model;
  broken.weights.patch_bias[0] += 1.0f;
  BenchBackend wrong = hwy;
  wrong.name = "wrong";
  wrong.prepare = [&broken, hwy](const core::Model&, size_t t) { return hwy.prepare(broken, t); };
  const Verification bad = verify_against_reference(wrong, {&run}, 1);
  EXPECT_FALSE(bad.passed);
  EXPECT_EQ(bad.cases[0]["first_failing_tap"], "embed");
  EXPECT_NE(bad.summary.find("FAILED"), std::string::npos);

  BenchBackend throws = hwy;
  throws.name = "throws";
  throws.prepare = [](const core::Model&, size_t) -> std::unique_ptr<optimized::PreparedModel> {
    throw core::Error("cannot pack");
  };
  const Verification err = verify_against_reference(throws, {&run}, 1);
  EXPECT_FALSE(err.passed);
  EXPECT_EQ(err.cases[0]["error"], "cannot pack");
  EXPECT_EQ(err.cases[0]["logits"]["rows"], 2);
}

TEST(Summary, OneTablePerModelWithSpeedupsAndVerdicts) {
  auto run = [](const std::string& name, double ms, double gflops) {
    return json{{"name", name + "/repeats:3_median"},
                {"run_name", name + "/repeats:3"},
                {"run_type", "aggregate"},
                {"aggregate_name", "median"},
                {"time_unit", "ms"},
                {"real_time", ms},
                {"GFLOP/s", gflops},
                {"%peak", gflops / 2},
                {"images/s", 1000 / ms}};
  };
  json report = {
      {"benchmarks",
       {run("model/m@224/b1/t2/fast", 100, 40), run("model/m@224/b1/t2/slow", 250, 16),
        run("model/m@224/b1/t2/reference", 5000, 0.8),
        run("model/m@224/b1/t2/peer:torch", 500, 8), run("op/gelu/m@224/10x10/t2/fast", 1, 1)}},
      {"context",
       {{"vitbench",
         {{"verification",
           {{{"backend", "fast"}, {"passed", true}, {"source", "golden"},
             {"cases", {{{"case", "c"}, {"passed", true}, {"logits", {{"max_rel_error", 1e-6}}}}}}},
            {{"backend", "slow"}, {"passed", true}, {"source", "reference"}, {"cases", json::array()}},
            {{"backend", "broken"}, {"passed", false}, {"source", "reference"},
             {"cases",
              {{{"case", "m b1 vs reference"}, {"passed", false}, {"first_failing_tap", "embed"},
                {"logits", {{"max_rel_error", 0.5}}}}}}}}}}}}}};
  const std::string text = format_summary(report, {"report: x.json"});
  EXPECT_NE(text.find("m@224"), std::string::npos) << text;
  // Speed-ups over the slowest of our optimized backends, never over a peer or the reference,
  // however slow: fast 2.50x, slow 1.00x, the peer 0.50x.
  EXPECT_NE(text.find("2.50x"), std::string::npos) << text;
  EXPECT_NE(text.find("1.00x"), std::string::npos) << text;
  EXPECT_NE(text.find("0.50x"), std::string::npos) << text;
  EXPECT_NE(text.find("b1 t2: fast takes 20% of peer:torch's time (5.00x as fast)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("pass (golden, max rel 1.0e-06)"), std::string::npos) << text;
  EXPECT_NE(text.find("broken: FAILED verification"), std::string::npos) << text;
  EXPECT_NE(text.find("first failing tap embed"), std::string::npos) << text;
  EXPECT_NE(text.find("report: x.json"), std::string::npos) << text;
  EXPECT_EQ(text.find("gelu"), std::string::npos) << "ops are not in the model tables\n" << text;
  // Rows in speed order: fast before slow.
  EXPECT_LT(text.find("fast "), text.find("slow "));
}

TEST(Text, FormatHoldsAnyLengthAndDimsJoinWithAnX) {
  // Log lines and notes carry paths and peers' messages: nothing is cut at a fixed buffer size.
  const std::string long_path(3000, 'p');
  EXPECT_EQ(format("peer %s: %.2f ms, batch %zu", long_path.c_str(), 1.5, size_t{8}),
            "peer " + long_path + ": 1.50 ms, batch 8");
  EXPECT_EQ(format("%s", ""), "");
  EXPECT_EQ(dims({197, 768, 3072}), "197x768x3072");
  EXPECT_EQ(dims({1}), "1");
}

TEST(MachineInfo, DescribesThisMachine) {
  const CpuInfo cpu = cpu_info();
  EXPECT_FALSE(cpu.vendor.empty());
  EXPECT_FALSE(cpu.model.empty());
  EXPECT_GE(cpu.threads, 1u);
  EXPECT_GE(cpu.cores, 1u);
  EXPECT_LE(cpu.cores, cpu.threads);
  EXPECT_GE(cpu.available, 1u);
#if defined(__x86_64__)
  EXPECT_GT(cpu.family, 0);
#endif
  EXPECT_FALSE(os_description().empty());
  EXPECT_FALSE(build_info().compiler.empty());
  EXPECT_FALSE(git_info().commit.empty());
  const BlisInfo blis = blis_info();
  EXPECT_FALSE(blis.version.empty());
  EXPECT_FALSE(blis.config.empty());
  // BLIS is linked into this test through the optimized backends.
  bool blis_loaded = false;
  for (const std::string& lib : blas_libraries_loaded()) blis_loaded |= lib.find("blis") != std::string::npos;
  EXPECT_TRUE(blis_loaded);
}

TEST(Scheduling, DescribesThisProcess) {
  const core::SchedulingInfo s = scheduling_info();
  const std::set<std::string> known = {"SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH",
                                       "SCHED_IDLE"};
  EXPECT_TRUE(known.count(s.policy)) << s.policy;
  const bool real_time = s.policy == "SCHED_FIFO" || s.policy == "SCHED_RR";
  if (real_time) {
    EXPECT_GE(s.priority, 1);
  } else {
    EXPECT_EQ(s.priority, 0);
  }
  // The throttle as the kernel states it, read here independently (absent in some sandboxes).
  std::ifstream runtime("/proc/sys/kernel/sched_rt_runtime_us");
  std::ifstream period("/proc/sys/kernel/sched_rt_period_us");
  int64_t runtime_us = 0, period_us = 0;
  if ((runtime >> runtime_us) && (period >> period_us)) {
    EXPECT_EQ(s.rt_runtime_us, runtime_us);
    EXPECT_EQ(s.rt_period_us, period_us);
  } else {
    EXPECT_EQ(s.rt_period_us, 0);
  }
  const nlohmann::json j = to_json(s);
  EXPECT_EQ(j["policy"], s.policy);
  EXPECT_EQ(j.contains("rt_runtime_us"), j.contains("rt_period_us"));
}

// The standalone tools' context line says the policy, and the throttle or its absence.
TEST(Scheduling, StandaloneToolsContextLine) {
  core::SchedulingInfo s;
  s.policy = "SCHED_FIFO";
  s.priority = 10;
  s.rt_runtime_us = 950000;
  s.rt_period_us = 1000000;
  EXPECT_EQ(scheduling_context(s),
            "SCHED_FIFO priority 10, real-time throttle 950000 of every 1000000 us");
  s.rt_runtime_us = -1;
  EXPECT_EQ(scheduling_context(s), "SCHED_FIFO priority 10, no real-time throttle");
  s = core::SchedulingInfo{};
  s.policy = "SCHED_OTHER";
  EXPECT_EQ(scheduling_context(s), "SCHED_OTHER priority 0");  // the throttle files unread
}

TEST(Peaks, AreMeasuredPerThreadCount) {
  PeakOptions o;
  o.fma_seconds = 0.02;
  o.bandwidth_seconds = 0.01;
  o.bandwidth_bytes = size_t{8} << 20;
  const Peaks p = measure_peaks({2, 1, 2}, 0, o);
  ASSERT_EQ(p.fma_gflops.size(), 2u);
  ASSERT_EQ(p.bandwidth_gbs.size(), 2u);
  for (const auto& [t, g] : p.fma_gflops) {
    EXPECT_TRUE(std::isfinite(g) && g > 0) << t;
  }
  EXPECT_EQ(p.fma_for(2), p.fma_gflops.at(2));
  EXPECT_DOUBLE_EQ(p.fma_for(4), p.fma_gflops.at(2) * 2);
  const json j = to_json(p);
  EXPECT_TRUE(j["fma_gflops"].contains("1"));
  EXPECT_TRUE(j["bandwidth_gbs"].contains("2"));
}

// gemm_bench's peak: the same measurement, with its best and median trials.
TEST(Peaks, FmaPeakReportsTheBestAndTheMedianTrial) {
  for (int trials : {0, 1, 4}) {
    const FmaPeak p = measure_fma_peak(2, 0.02, trials);
    EXPECT_TRUE(std::isfinite(p.median_gflops) && p.median_gflops > 0) << trials;
    EXPECT_GE(p.best_gflops, p.median_gflops) << trials;
    if (trials <= 1) {
      EXPECT_EQ(p.best_gflops, p.median_gflops);  // one trial: both are it
    }
  }
}

TEST(Profiles, DefaultIsViTBAtBatchOneOnTheMachinesThreadsWithoutOps) {
  const Profile& p = find_profile("default");
  EXPECT_EQ(p.models, std::vector<std::string>{"vit-b16"});
  EXPECT_EQ(p.batches, std::vector<size_t>{1});
  EXPECT_EQ(p.threads, std::vector<size_t>{0});
  EXPECT_TRUE(p.ops.empty());
  EXPECT_GE(p.repetitions, 3);
  EXPECT_NO_THROW(find_profile("full"));
  EXPECT_NO_THROW(find_profile("quick"));
  EXPECT_THROW(find_profile("fastest"), core::Error);
}

TEST(GoogleBenchmarkJson, LastDuplicateKeyWins) {
  // Google Benchmark writes its own "threads" (always 1 here) before the counters, so the
  // report's single "threads" after parsing must be bench's counter.
  const json j = json::parse(R"({"threads": 1, "GFLOP/s": 3.0, "threads": 2.0})");
  EXPECT_EQ(j["threads"].get<double>(), 2.0);
}

}  // namespace
}  // namespace vitbench::bench
