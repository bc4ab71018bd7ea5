// Whole runs of the harness on a tiny model: the report it writes is valid, complete and
// counted; a backend that fails verification is reported and never timed; bad options are
// refused before any work.
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bench/backends.h"
#include "bench/harness.h"
#include "bench/registration.h"
#include "bench_test_util.h"
#include "core/error.h"
#include "reports/validate.h"

namespace vitbench::bench {
namespace {

using nlohmann::json;

// Everything docs/report-format.md lists under context.vitbench.
void expect_context_complete(const json& ctx) {
  for (const char* key : {"version", "cpu", "highway", "blis", "blas_loaded", "build", "git",
                          "threads", "os", "scheduling", "machine_key", "peak", "verification"}) {
    EXPECT_TRUE(ctx.contains(key)) << key;
  }
  EXPECT_TRUE(ctx["scheduling"]["policy"].is_string());
  EXPECT_TRUE(ctx["scheduling"]["priority"].is_number_integer());
  for (const char* key :
       {"vendor", "model", "family", "model_id", "stepping", "flags", "cores", "threads", "caches"}) {
    EXPECT_TRUE(ctx["cpu"].contains(key)) << "cpu." << key;
  }
  EXPECT_TRUE(ctx["highway"]["chosen_target"].is_string());
  EXPECT_FALSE(ctx["highway"]["compiled_targets"].empty());
  EXPECT_FALSE(ctx["highway"]["supported_targets"].empty());
  for (const char* key : {"version", "config", "threading"}) {
    EXPECT_TRUE(ctx["blis"][key].is_string()) << "blis." << key;
  }
  for (const char* key : {"compiler", "flags", "build_type"}) {
    EXPECT_TRUE(ctx["build"][key].is_string()) << "build." << key;
  }
  EXPECT_TRUE(ctx["git"]["commit"].is_string());
  EXPECT_TRUE(ctx["git"]["dirty"].is_boolean());
  EXPECT_TRUE(ctx["peak"]["fma_gflops"].is_object());
  EXPECT_TRUE(ctx["peak"]["bandwidth_gbs"].is_object());
}

TEST(BenchRun, WritesAValidReportWithEveryCounterAndAggregate) {
  testing::TempDir dir;
  const std::string model = testing::write_tiny_model(dir.path());
  testing::Quiet quiet;
  const Outcome outcome = run_bench(testing::tiny_options(model, dir.path()), quiet.hooks());
  EXPECT_EQ(outcome.exit_code, 0) << quiet.log.str();
  ASSERT_FALSE(outcome.report_path.empty());
  const json report = json::parse(testing::read_text(outcome.report_path));
  EXPECT_EQ(report, outcome.report);
  EXPECT_NO_THROW(reports::validate_report(report, outcome.report_path));
  expect_context_complete(report["context"]["vitbench"]);
  EXPECT_TRUE(report["context"].contains("date"));  // Google Benchmark's own context stays

  // Every backend was verified and passed; the reference is the oracle.
  std::set<std::string> verified;
  for (const json& v : report["context"]["vitbench"]["verification"]) {
    EXPECT_TRUE(v["passed"].get<bool>()) << v.dump();
    verified.insert(v["backend"].get<std::string>());
  }
  for (const std::string& b : all_backend_names()) EXPECT_TRUE(verified.count(b)) << b;

  std::set<std::string> runs, aggregates;
  std::set<std::string> ops_seen, backends_seen;
  const std::regex name_re("(model/tiny@32/b2/t([12])/([a-z+]+)|op/([a-z_]+)/tiny@32/[0-9x]+/t([12])/([a-z+]+))/repeats:2");
  for (const json& b : report["benchmarks"]) {
    const std::string run_name = b["run_name"];
    std::smatch m;
    ASSERT_TRUE(std::regex_match(run_name, m, name_re)) << run_name;
    const bool is_model = m[2].matched;
    const std::string t = is_model ? m[2] : m[5];
    const std::string op = m[4];
    (is_model ? backends_seen : ops_seen).insert(is_model ? std::string(m[3]) : op);
    if (b["run_type"] == "aggregate") {
      aggregates.insert(run_name + "_" + b["aggregate_name"].get<std::string>());
      continue;
    }
    runs.insert(run_name);
    EXPECT_FALSE(b.value("error_occurred", false)) << b.dump();
    EXPECT_GT(b["GFLOP/s"].get<double>(), 0) << run_name;
    EXPECT_GT(b["%peak"].get<double>(), 0) << run_name;
    EXPECT_EQ(b["threads"].get<double>(), std::stod(t)) << run_name;
    if (is_model) {
      EXPECT_GT(b["images/s"].get<double>(), 0) << run_name;
    }
    const bool memory_bound = op == "layer_norm" || op == "gelu" || op == "softmax";
    EXPECT_EQ(b.contains("bytes_per_second"), memory_bound) << run_name;
  }
  for (const std::string& r : runs) {
    for (const char* a : {"mean", "median", "stddev", "cv"}) {
      EXPECT_TRUE(aggregates.count(r + "_" + a)) << r << " lacks its " << a;
    }
  }
  EXPECT_EQ(ops_seen, (std::set<std::string>(op_names().begin(), op_names().end())));
  const std::vector<std::string> names = all_backend_names();
  const std::set<std::string> all(names.begin(), names.end());
  EXPECT_EQ(backends_seen, all);

  // The summary names the model and every backend.
  const std::string summary = quiet.out.str();
  EXPECT_NE(summary.find("tiny@32"), std::string::npos) << summary;
  for (const std::string& b : all) EXPECT_NE(summary.find(b), std::string::npos) << summary;
  EXPECT_NE(summary.find(outcome.report_path), std::string::npos) << summary;
  // Progress lines name what runs and what is left.
  EXPECT_NE(quiet.log.str().find(" left"), std::string::npos) << quiet.log.str();
}

// The same report against the JSON schema kept in the repository, when python3 has jsonschema
// (reports::validate_report above checks the same rules and more, always).
TEST(BenchRun, TheReportValidatesAgainstTheJsonSchema) {
  if (std::system("python3 -c 'import jsonschema' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "SKIPPED: python3 with jsonschema is not installed (apt-get install "
                    "python3-jsonschema); the schema check did not run";
  }
  testing::TempDir dir;
  const std::string model = testing::write_tiny_model(dir.path());
  testing::Quiet quiet;
  Options o = testing::tiny_options(model, dir.path());
  o.threads = std::vector<size_t>{1};
  const Outcome outcome = run_bench(o, quiet.hooks());
  ASSERT_EQ(outcome.exit_code, 0) << quiet.log.str();
  const std::string script = dir / "check.py";
  std::ofstream(script) << R"py(
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
errors = list(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))))
print("valid" if not errors else "invalid at %s: %s" % (errors[0].json_path, errors[0].message))
)py";
  const testing::CommandResult r = testing::run_command(
      {"python3", script, std::string(VITBENCH_SOURCE_DIR) + "/reports/schema/report.schema.json",
       outcome.report_path});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "valid\n");
}

// A backend whose logits are 1% off: verification fails, its figures are reported, and it is
// never run again after verification.
TEST(BenchRun, AFailingBackendIsReportedButNeverTimed) {
  testing::TempDir dir;
  const std::string model = testing::write_tiny_model(dir.path());
  auto forwards = std::make_shared<std::atomic<int>>(0);

  class Scaled final : public optimized::PreparedModel {
   public:
    Scaled(std::unique_ptr<optimized::PreparedModel> inner, std::shared_ptr<std::atomic<int>> n)
        : inner_(std::move(inner)), n_(std::move(n)) {}
    core::Tensor forward(const core::Tensor& images, core::Taps* taps) override {
      ++*n_;
      // Wrong only without taps: in the pass the benchmarks would time, not the one that fills
      // the taps.
      core::Tensor logits = inner_->forward(images, taps);
      for (size_t i = 0; !taps && i < logits.size(); ++i) logits[i] *= 1.01f;
      return logits;
    }

   private:
    std::unique_ptr<optimized::PreparedModel> inner_;
    std::shared_ptr<std::atomic<int>> n_;
  };
  BenchBackend broken = find_bench_backend("hwy");
  const BenchBackend hwy = broken;
  broken.name = "broken";
  broken.prepare = [hwy, forwards](const core::Model& m, size_t t) {
    return std::make_unique<Scaled>(hwy.prepare(m, t), forwards);
  };

  testing::Quiet quiet;
  Hooks hooks = quiet.hooks();
  hooks.extra_backends.push_back(broken);
  Options options = testing::tiny_options(model, dir.path());
  options.backends = std::vector<std::string>{"broken", "hwy"};
  const Outcome outcome = run_bench(options, hooks);

  EXPECT_EQ(outcome.exit_code, 1);
  // Verification runs it twice, with every tap and without any (the pass timing would run);
  // nothing else may.
  EXPECT_EQ(forwards->load(), 2);
  const json report = json::parse(testing::read_text(outcome.report_path));
  EXPECT_NO_THROW(reports::validate_report(report, outcome.report_path));
  const json& verification = report["context"]["vitbench"]["verification"];
  ASSERT_EQ(verification.size(), 2u);
  const json& v = verification[0];
  EXPECT_EQ(v["backend"], "broken");
  EXPECT_FALSE(v["passed"].get<bool>());
  EXPECT_LT(v["cases"][0]["logits"]["max_rel_error"].get<double>(), 1e-4);
  EXPECT_TRUE(v["cases"][0]["first_failing_tap"].is_null());
  EXPECT_NEAR(v["cases"][0]["logits_without_taps"]["max_rel_error"].get<double>(), 0.01, 1e-3);
  EXPECT_TRUE(verification[1]["passed"].get<bool>());
  size_t hwy_runs = 0;
  for (const json& b : report["benchmarks"]) {
    const std::string name = b["name"];
    EXPECT_EQ(name.find("/broken"), std::string::npos) << name;
    hwy_runs += name.find("/hwy/") != std::string::npos;
  }
  EXPECT_GT(hwy_runs, 0u);
  EXPECT_NE(quiet.out.str().find("broken: FAILED verification"), std::string::npos)
      << quiet.out.str();
}

// Golden cases, when supplied, decide instead of the reference; a golden failure also stops
// the backend from being timed.
TEST(BenchRun, AGoldenVerdictIsUsedWhenGiven) {
  testing::TempDir dir;
  const std::string model = testing::write_tiny_model(dir.path());
  testing::Quiet quiet;
  Hooks hooks = quiet.hooks();
  std::vector<std::string> asked;
  hooks.golden = [&](const BenchBackend& b, size_t) -> std::optional<Verification> {
    asked.push_back(b.name);
    if (b.name == "reference") return std::nullopt;  // no case for it: the fallback decides
    Verification v;
    v.backend = b.name;
    v.source = "golden";
    v.passed = b.name != "hwy";
    v.cases = json::array({{{"case", "odd-72x3-b3"},
                            {"passed", v.passed},
                            {"first_failing_tap", v.passed ? json() : json("embed")},
                            {"logits", {{"max_rel_error", v.passed ? 1e-7 : 0.3}, {"nmse", 1e-12},
                                        {"cosine", 1.0}, {"argmax_agree", 3}, {"rows", 3}}}}});
    v.summary = v.passed ? "pass" : "FAILED on goldens";
    return v;
  };
  Options options = testing::tiny_options(model, dir.path());
  options.ops = std::vector<std::string>{};
  const Outcome outcome = run_bench(options, hooks);
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_EQ(asked.size(), all_backend_names().size());
  const json report = json::parse(testing::read_text(outcome.report_path));
  EXPECT_NO_THROW(reports::validate_report(report, outcome.report_path));
  for (const json& v : report["context"]["vitbench"]["verification"]) {
    EXPECT_EQ(v["source"], v["backend"] == "reference" ? "oracle" : "golden") << v.dump();
  }
  for (const json& b : report["benchmarks"]) {
    EXPECT_EQ(b["name"].get<std::string>().find("/hwy/"), std::string::npos) << b["name"];
  }
}

TEST(BenchRun, RefusesBadOptionsBeforeAnyWork) {
  testing::TempDir dir;
  const std::string model = testing::write_tiny_model(dir.path());
  auto refused = [&](auto edit, const std::string& says) {
    testing::Quiet quiet;
    Options o = testing::tiny_options(model, dir.path());
    edit(o);
    try {
      run_bench(o, quiet.hooks());
      ADD_FAILURE() << "accepted: " << says;
    } catch (const core::Error& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
    EXPECT_EQ(quiet.log.str().find("measuring"), std::string::npos) << "work started: " << says;
  };
  refused([](Options& o) { o.backends = std::vector<std::string>{"nope"}; }, "unknown backend \"nope\"");
  refused([](Options& o) { o.ops = std::vector<std::string>{"conv"}; }, "unknown op \"conv\"");
  refused([](Options& o) { o.profile = "huge"; }, "unknown profile \"huge\"");
  refused([](Options& o) { o.benchmark_flags = {"--fast"}; }, "not a Google Benchmark flag");
  refused([](Options& o) { o.benchmark_flags = {"--benchmark_nonsense=1"}; }, "unrecognized");
  refused([&](Options& o) { o.reports_dir = dir / "missing"; }, "does not exist");
  refused([](Options& o) { o.models = std::vector<std::string>{"vit-q16"}; }, "vit-q16");
  refused([](Options& o) { o.batches = std::vector<size_t>{0}; }, "positive");
  refused([](Options& o) { o.threads = std::vector<size_t>{2, 5000}; }, "at most 1024, not 5000");
  refused([](Options& o) {
    o.models_too = false;
    o.ops = std::vector<std::string>{};
  }, "no ops");
  EXPECT_EQ(testing::files_in(dir.path()).size(), 1u) << "only the model folder";
}

TEST(BenchRun, AFilterThatMatchesNothingIsAnErrorAndWritesNoReport) {
  testing::TempDir dir;
  const std::string model = testing::write_tiny_model(dir.path());
  testing::Quiet quiet;
  Options o = testing::tiny_options(model, dir.path());
  o.backends = std::vector<std::string>{"hwy"};
  o.ops = std::vector<std::string>{};
  o.benchmark_flags = {"--benchmark_filter=no-such-benchmark"};
  EXPECT_THROW(run_bench(o, quiet.hooks()), core::Error);
  EXPECT_EQ(testing::files_in(dir.path()).size(), 1u);
}

TEST(BenchRun, ListingRunsNothingAndWritesNoReport) {
  testing::TempDir dir;
  const std::string model = testing::write_tiny_model(dir.path());
  testing::Quiet quiet;
  Options o = testing::tiny_options(model, dir.path());
  o.benchmark_flags = {"--benchmark_list_tests=true"};
  const Outcome outcome = run_bench(o, quiet.hooks());
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_TRUE(outcome.report_path.empty());
  EXPECT_EQ(testing::files_in(dir.path()).size(), 1u);
}

TEST(BenchRun, BenchmarkOutGetsTheSameReportAndFiltersApply) {
  testing::TempDir dir;
  const std::string model = testing::write_tiny_model(dir.path());
  testing::Quiet quiet;
  Options o = testing::tiny_options(model, dir.path());
  o.backends = std::vector<std::string>{"hwy"};
  o.benchmark_flags = {"--benchmark_out=" + (dir / "copy.json"), "--benchmark_filter=op/gelu",
                       "--benchmark_repetitions=3"};
  const Outcome outcome = run_bench(o, quiet.hooks());
  EXPECT_EQ(outcome.exit_code, 0) << quiet.log.str();
  EXPECT_EQ(json::parse(testing::read_text(dir / "copy.json")), outcome.report);
  ASSERT_FALSE(outcome.report["benchmarks"].empty());
  for (const json& b : outcome.report["benchmarks"]) {
    const std::string name = b["name"];
    EXPECT_EQ(name.rfind("op/gelu/", 0), 0u) << name;
    EXPECT_NE(name.find("/repeats:3"), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace vitbench::bench
