// validate_report on good fixtures and on one mutation per rule, and the JSON schema on the
// same files (through Python's jsonschema where it is installed).
#include <cmath>
#include <functional>

#include <gtest/gtest.h>

#include "core/error.h"
#include "reports/validate.h"
#include "tests/reports/reports_test_util.h"

namespace vitbench::reports {
namespace {

using nlohmann::json;
using testing::fixture;
using testing::fixture_json;
using testing::TempDir;

const char* const kGood[] = {"base.json", "new_same.json", "new_slow.json", "new_accuracy.json",
                             "machine_b.json"};

TEST(Validate, AcceptsTheGoodFixtures) {
  for (const char* name : kGood) {
    SCOPED_TRACE(name);
    EXPECT_NO_THROW(validate_report(fixture_json(name), fixture(name)));
  }
}

struct Mutation {
  const char* what;
  std::function<void(json&)> edit;
  const char* says;
};

json& first_iteration(json& r) { return r["benchmarks"][0]; }

json& find_benchmark(json& r, const std::string& prefix) {
  for (json& b : r["benchmarks"]) {
    if (b["name"].get<std::string>().rfind(prefix, 0) == 0) return b;
  }
  throw std::runtime_error("no benchmark " + prefix);
}

std::vector<Mutation> mutations() {
  return {
      {"no context.vitbench", [](json& r) { r["context"].erase("vitbench"); },
       "context: missing required field \"vitbench\""},
      {"future version", [](json& r) { r["context"]["vitbench"]["version"] = 2; }, "version: must be 1"},
      {"machine key", [](json& r) { r["context"]["vitbench"]["machine_key"] = "epyc"; },
       "expected \"AMD EPYC 7B13/AVX2/t2\""},
      {"NaN timing", [](json& r) { first_iteration(r)["real_time"] = "NaN"; },
       "real_time: is NaN, not a number"},
      {"NaN as a double", [](json& r) { first_iteration(r)["cpu_time"] = NAN; }, "cpu_time: is not finite"},
      {"string timing", [](json& r) { first_iteration(r)["real_time"] = "fast"; },
       "real_time: must be a number, not a string"},
      {"zero timing", [](json& r) { first_iteration(r)["real_time"] = 0; }, "real_time: must be positive"},
      {"time unit", [](json& r) { first_iteration(r)["time_unit"] = "ps"; }, "\"ps\" is not one of"},
      {"%peak at the wrong thread count",
       [](json& r) { first_iteration(r)["%peak"] = first_iteration(r)["%peak"].get<double>() * 2; },
       "%peak: is"},
      {"Google Benchmark's threads only", [](json& r) { first_iteration(r)["threads"] = 1; },
       "counter is 1.000000 but the name says t2"},
      {"missing GFLOP/s", [](json& r) { first_iteration(r).erase("GFLOP/s"); },
       "missing required field \"GFLOP/s\""},
      {"model without images/s", [](json& r) { first_iteration(r).erase("images/s"); },
       "missing required field \"images/s\""},
      {"gelu without bytes",
       [](json& r) { find_benchmark(r, "op/gelu/").erase("bytes_per_second"); },
       "missing required field \"bytes_per_second\""},
      {"name outside the grammar",
       [](json& r) { first_iteration(r)["run_name"] = "BM_foo"; }, "follows neither"},
      {"unknown op",
       [](json& r) { find_benchmark(r, "op/gelu/")["run_name"] = "op/conv/vit-ti16@224/197x768/t2/hwy"; },
       "op \"conv\" is not one of"},
      {"linear shape",
       [](json& r) { find_benchmark(r, "op/linear/")["run_name"] = "op/linear/vit-ti16@224/197x576/t2/hwy"; },
       "must be MxNxK"},
      {"benchmarks a failed backend",
       [](json& r) { r["context"]["vitbench"]["verification"][0]["passed"] = false; },
       "backend \"hwy\" failed verification but has benchmarks"},
      {"benchmarks an unverified backend",
       [](json& r) { r["context"]["vitbench"]["verification"].erase(2); },
       "no entry for benchmarked backend \"flash\""},
      {"passed with a failing case",
       [](json& r) {
         json& c = r["context"]["vitbench"]["verification"][0]["cases"][0];
         c["passed"] = false;
         c["first_failing_tap"] = "logits";
       },
       "passed, yet one of its cases failed"},
      {"cosine out of range",
       [](json& r) { r["context"]["vitbench"]["verification"][1]["cases"][0]["logits"]["cosine"] = 1.5; },
       "cosine: must be within [-1, 1]"},
      {"argmax beyond rows",
       [](json& r) { r["context"]["vitbench"]["verification"][1]["cases"][0]["logits"]["argmax_agree"] = 4; },
       "argmax_agree: is more than rows"},
      {"no peak for the threads used",
       [](json& r) { r["context"]["vitbench"]["peak"]["fma_gflops"].erase("2"); },
       "no entry for the run's 2 threads"},
      {"peak key", [](json& r) { r["context"]["vitbench"]["peak"]["bandwidth_gbs"]["two"] = 3; },
       "key \"two\" is not a thread count"},
      {"backend listed twice",
       [](json& r) {
         auto& v = r["context"]["vitbench"]["verification"];
         v.push_back(v[0]);
       },
       "listed twice"},
      {"chosen target not compiled",
       [](json& r) { r["context"]["vitbench"]["highway"]["compiled_targets"] = json::array({"SSE4"}); },
       "is not in compiled_targets"},
      {"chosen target not supported",
       [](json& r) { r["context"]["vitbench"]["highway"]["supported_targets"] = json::array({"SSE4"}); },
       "is not in supported_targets"},
      {"supported target not a name",
       [](json& r) { r["context"]["vitbench"]["highway"]["supported_targets"] = json::array({7}); },
       "supported_targets[0]: must be a string"},
      {"scheduling policy not a name",
       [](json& r) { r["context"]["vitbench"]["scheduling"] = {{"policy", 1}, {"priority", 0}}; },
       "scheduling.policy: must be a string, not a number"},
      {"throttle without its period",
       [](json& r) {
         r["context"]["vitbench"]["scheduling"] = {
             {"policy", "SCHED_FIFO"}, {"priority", 10}, {"rt_runtime_us", 950000}};
       },
       "scheduling: missing required field \"rt_period_us\""},
      {"no benchmarks", [](json& r) { r["benchmarks"] = json::array(); }, "benchmarks: must not be empty"},
      {"benchmarks not a list", [](json& r) { r["benchmarks"] = json::object(); }, "must be an array, not an object"},
      {"not an object", [](json& r) { r = json::array(); }, "must be a JSON object, not an array"},
  };
}

TEST(Validate, RefusesEachBrokenRuleInOneLine) {
  for (const Mutation& m : mutations()) {
    SCOPED_TRACE(m.what);
    json r = fixture_json("base.json");
    m.edit(r);
    try {
      validate_report(r, "bad.json");
      ADD_FAILURE() << "accepted";
    } catch (const core::Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("bad.json: ", 0), 0u) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      EXPECT_NE(msg.find(m.says), std::string::npos) << msg;
    }
  }
}

TEST(Validate, RefusesTheBadFixtures) {
  EXPECT_THROW(validate_report(fixture_json("nan_timings.json"), "nan"), core::Error);
  EXPECT_THROW(validate_report(fixture_json("missing_fields.json"), "missing"), core::Error);
  EXPECT_THROW(validate_report(fixture_json("wrong_types.json"), "wrong"), core::Error);
}

TEST(Validate, FailingCasesMayHaveNullFigures) {
  json r = fixture_json("new_accuracy.json");
  json& logits = r["context"]["vitbench"]["verification"][1]["cases"][0]["logits"];
  logits["max_rel_error"] = nullptr;
  logits["cosine"] = nullptr;
  EXPECT_NO_THROW(validate_report(r, "nulls.json"));
}

// The schema must agree with validate_report wherever a schema can say it.
TEST(Schema, AgreesWithTheValidator) {
  if (std::system("python3 -c 'import jsonschema' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 with jsonschema is not installed (apt-get install python3-jsonschema); "
                    "schema not checked";
  }
  TempDir dir;
  const std::string script = dir / "check.py";
  testing::write_bytes(script, R"py(
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
for f in sys.argv[2:]:
    errors = list(v.iter_errors(json.load(open(f))))
    print(f, "valid" if not errors else "invalid " + errors[0].message.replace("\n", " "))
)py");
  std::vector<std::string> args = {script, std::string(VITBENCH_SOURCE_DIR) + "/reports/schema/report.schema.json"};
  std::vector<std::string> expect_valid;
  for (const char* name : kGood) {
    args.push_back(fixture(name));
    expect_valid.push_back(fixture(name));
  }
  // Mutations a schema can express; the NaN and consistency rules are the validator's alone.
  const std::vector<std::string> schema_can = {"no context.vitbench", "future version", "string timing",
                                               "zero timing", "time unit", "missing GFLOP/s",
                                               "model without images/s", "gelu without bytes",
                                               "name outside the grammar", "unknown op", "linear shape",
                                               "cosine out of range", "peak key",
                                               "scheduling policy not a name",
                                               "throttle without its period", "no benchmarks",
                                               "not an object"};
  std::vector<std::string> expect_invalid;
  for (const Mutation& m : mutations()) {
    if (std::find(schema_can.begin(), schema_can.end(), m.what) == schema_can.end()) continue;
    json r = fixture_json("base.json");
    m.edit(r);
    const std::string path = dir / ("mutation-" + std::to_string(expect_invalid.size()) + ".json");
    testing::write_bytes(path, r.dump());
    args.push_back(path);
    expect_invalid.push_back(path + " (" + m.what + ")");
  }
  ASSERT_EQ(expect_invalid.size(), schema_can.size());
  const testing::CommandResult res = testing::run_command("python3", args, dir);
  ASSERT_EQ(res.exit_code, 0) << res.err;
  for (const std::string& f : expect_valid) {
    EXPECT_NE(res.out.find(f + " valid"), std::string::npos) << res.out;
  }
  for (const std::string& f : expect_invalid) {
    const std::string path = f.substr(0, f.find(" ("));
    EXPECT_NE(res.out.find(path + " invalid"), std::string::npos) << f << "\n" << res.out;
  }
}

TEST(Validate, ABenchmarkNameWithANewlineIsRefusedInOneLine) {
  // Found by tests/fuzz (fuzz_report; the input is kept in its corpus): the name was quoted raw,
  // so the message ran over two lines. core::Error now escapes control characters.
  const std::string path = std::string(VITBENCH_SOURCE_DIR) +
                           "/tests/fuzz/corpus/report/regress_benchmark_name_with_a_newline.json";
  std::string message;
  try {
    validate_report(read_report_json(path), path);
    ADD_FAILURE() << "the report was accepted";
  } catch (const core::Error& e) {
    message = e.what();
  }
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("t2\\nwy/"), std::string::npos) << message;
}

}  // namespace
}  // namespace vitbench::reports
