// Reading reports: what Google Benchmark writes (suffixes, aggregates, NaN tokens, duplicate
// keys), and every hostile variation refused in one line that names the file, or skipped
// with a note.
#include <algorithm>

#include <gtest/gtest.h>

#include "core/error.h"
#include "reports/report.h"
#include "tests/reports/reports_test_util.h"

namespace vitbench::reports {
namespace {

using testing::fixture;
using testing::TempDir;

// The contract for every refused report.
void expect_refused(const std::string& path, const std::vector<std::string>& says) {
  try {
    load_report(path);
    ADD_FAILURE() << path << " was accepted";
  } catch (const core::Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind(path, 0), 0u) << "names the file first: " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << "one line: " << m;
    for (const std::string& s : says) EXPECT_NE(m.find(s), std::string::npos) << s << " in: " << m;
  }
}

Report from_text(const std::string& text, const std::string& where = "mem.json") {
  return parse_report(parse_report_text(text, where), where);
}

TEST(ReportNames, StripsGoogleBenchmarkSuffixes) {
  EXPECT_EQ(strip_gbench_suffixes("model/vit-b16@224/b1/t2/hwy/repeats:5/real_time"),
            "model/vit-b16@224/b1/t2/hwy");
  EXPECT_EQ(strip_gbench_suffixes("op/gelu/m/4x4/t1/hwy/min_time:0.500/iterations:10/threads:1"),
            "op/gelu/m/4x4/t1/hwy");
  EXPECT_EQ(strip_gbench_suffixes("BM_x/real_time"), "BM_x");
  EXPECT_EQ(strip_gbench_suffixes("BM_x/8/repeats:"), "BM_x/8/repeats:");  // not a suffix
}

TEST(ReportNames, ParsesTheDocumentedGrammar) {
  const BenchName m = parse_bench_name("model/vit-b16@224/b8/t2/peer:onnxruntime");
  EXPECT_EQ(m.kind, BenchName::Kind::Model);
  EXPECT_EQ(m.model, "vit-b16@224");
  EXPECT_EQ(m.batch, 8);
  EXPECT_EQ(m.threads, 2);
  EXPECT_TRUE(m.is_peer());
  EXPECT_EQ(m.group(), "vit-b16@224/b8");
  const BenchName o = parse_bench_name("op/linear/vit-b16@224/197x2304x768/t2/blis");
  EXPECT_EQ(o.kind, BenchName::Kind::Op);
  EXPECT_EQ(o.op, "linear");
  EXPECT_EQ(o.shape, "197x2304x768");
  EXPECT_EQ(o.backend, "blis");
  for (const char* bad : {"model/x/b0/t2/hwy", "model/x/b1/tx/hwy", "model/x/b1/t2", "BM_foo",
                          "op/linear/m/1x2x3/t2/", "model//b1/t1/hwy", "model/x/b1/t99999999/h"}) {
    EXPECT_EQ(parse_bench_name(bad).kind, BenchName::Kind::Other) << bad;
  }
}

TEST(ReportDates, ParsesGoogleBenchmarkDates) {
  EXPECT_EQ(parse_iso8601("1970-01-01T00:00:00+00:00"), 0);
  EXPECT_EQ(parse_iso8601("2024-03-01T10:00:00+00:00"), 1709287200);
  EXPECT_EQ(parse_iso8601("2024-03-01T11:00:00+01:00"), 1709287200);
  EXPECT_EQ(parse_iso8601("2024-03-01T10:00:00Z"), 1709287200);
  EXPECT_EQ(parse_iso8601("2024-03-01T05:30:00-0430"), 1709287200);
  EXPECT_EQ(parse_iso8601("2024-03-01 10:00:00"), 1709287200);
  for (const char* bad : {"", "yesterday", "2024-13-01T00:00:00", "2024-03-01T10:00:00+1", "2024-03-01"}) {
    EXPECT_FALSE(parse_iso8601(bad).has_value()) << bad;
  }
}

TEST(ReportLoad, ReadsAGoogleBenchmarkReport) {
  const Report r = load_report(fixture("base.json"));
  EXPECT_TRUE(r.notes.empty()) << r.notes.front();
  EXPECT_TRUE(r.has_vitbench);
  EXPECT_EQ(r.machine.cpu_model, "AMD EPYC 7B13");
  EXPECT_EQ(r.machine.target, "AVX2");
  EXPECT_EQ(r.machine.threads, 2);
  EXPECT_EQ(r.machine.key, "AMD EPYC 7B13/AVX2/t2");
  EXPECT_EQ(r.machine.peak_gflops.at(2), 176.0);
  EXPECT_EQ(r.machine.bandwidth_gbs.at(1), 12.0);
  EXPECT_EQ(r.short_commit(), "1111111");
  EXPECT_EQ(r.epoch, 1709287200);
  ASSERT_EQ(r.benchmarks.size(), 10u);
  const Benchmark* hwy = r.find("model/vit-ti16@224/b1/t2/hwy");
  ASSERT_NE(hwy, nullptr);
  EXPECT_EQ(hwy->unit, TimeUnit::ms);
  ASSERT_EQ(hwy->times_ns.size(), 5u);
  // 30 ms x the fixture's jitter; the middle repetition is exactly the nominal time.
  EXPECT_NEAR(*hwy->median_ns(), 30e6, 1e-3);
  EXPECT_NEAR(*hwy->median_aggregate_ns, 30e6, 1e-3);
  // 2.52 GFLOP per image / 30 ms.
  EXPECT_NEAR(*hwy->counter("GFLOP/s"), 84.0, 1e-9);
  // The suite's threads counter follows Google Benchmark's own "threads": 1 and wins.
  EXPECT_EQ(*hwy->counter("threads"), 2.0);
  const auto spread = hwy->spread_ns();
  ASSERT_TRUE(spread);
  EXPECT_NEAR(spread->first, 30e6 * 0.985, 1e-3);
  EXPECT_NEAR(spread->second, 30e6 * 1.02, 1e-3);
  ASSERT_EQ(r.verification.size(), 3u);
  EXPECT_EQ(r.verification[0].backend, "hwy");
  EXPECT_NEAR(*r.verification[0].worst_max_rel_error(), 2e-6, 1e-18);
}

// A report made under `chrt` with the real-time throttle on carries its warning to every command
// that reads it (compare, dashboard, export print Report::notes).
TEST(ReportLoad, ARunUnderTheRealTimeThrottleIsNoted) {
  const Report b = load_report(fixture("machine_b.json"));
  ASSERT_EQ(b.notes.size(), 1u);
  EXPECT_NE(b.notes[0].find("scheduling: SCHED_FIFO under the kernel's real-time throttle"),
            std::string::npos)
      << b.notes[0];
  EXPECT_NE(b.notes[0].find("up to 5% slow"), std::string::npos) << b.notes[0];
  // A report without the field, or from a process under the default policy, has no such note.
  EXPECT_TRUE(load_report(fixture("base.json")).notes.empty());
}

TEST(ReportLoad, NamesWithoutRepeatsSuffixMatchThoseWith) {
  const Report b = load_report(fixture("machine_b.json"));
  EXPECT_NE(b.find("model/vit-ti16@224/b1/t4/hwy"), nullptr);
  EXPECT_EQ(b.find("model/vit-ti16@224/b1/t4/hwy")->times_ns.size(), 5u);
}

TEST(ReportLoad, NaNTimingsAreRefusedNamingFileBenchmarkAndField) {
  expect_refused(fixture("nan_timings.json"),
                 {"model/vit-ti16@224/b1/t2/hwy", "real_time is NaN, not a number"});
}

TEST(ReportLoad, WrongTypesAreRefused) {
  expect_refused(fixture("wrong_types.json"), {"real_time must be a number, not a string"});
}

TEST(ReportLoad, MissingFieldsAreSkippedWithNotes) {
  const Report r = load_report(fixture("missing_fields.json"));
  EXPECT_FALSE(r.has_vitbench);
  EXPECT_FALSE(r.machine.known());
  EXPECT_EQ(r.machine.key, "unknown CPU (host laptop)");
  auto noted = [&](const std::string& s) {
    return std::any_of(r.notes.begin(), r.notes.end(),
                       [&](const std::string& n) { return n.find(s) != std::string::npos; });
  };
  EXPECT_TRUE(noted("no context.vitbench"));
  EXPECT_TRUE(noted("BM_legacy")) << "no time_unit: skipped, not guessed";
  const Benchmark* no_counters = r.find("model/vit-ti16@224/b1/t2/hwy");
  ASSERT_NE(no_counters, nullptr);
  EXPECT_FALSE(no_counters->counter("GFLOP/s"));
  const Benchmark* aggregates_only = r.find("op/linear/vit-ti16@224/197x576x192/t2/hwy");
  ASSERT_NE(aggregates_only, nullptr);
  EXPECT_TRUE(aggregates_only->times_ns.empty());
  EXPECT_NEAR(*aggregates_only->median_ns(), 560e3, 1e-6);
  const Benchmark* failed = r.find("op/gelu/vit-ti16@224/197x768/t2/hwy");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->error, "hwy: AVX2 not available");
}

TEST(ReportLoad, HostileShapesAreRefusedInOneLine) {
  TempDir dir;
  struct Case {
    std::string text;
    std::vector<std::string> says;
  };
  const Case cases[] = {
      {"[1, 2]", {"not a benchmark report", "an array"}},
      {"{\"context\": {}}", {"no \"benchmarks\" array"}},
      {"{\"benchmarks\": {}}", {"benchmarks must be an array, not an object"}},
      {"{\"benchmarks\": [17]}", {"benchmarks[0]", "must be an object"}},
      {"{\"benchmarks\": [{\"name\": \"a\", \"real_time\": 1, \"cpu_time\": 1, \"time_unit\": \"fortnights\"}]}",
       {"benchmarks[0] (a)", "time_unit", "fortnights"}},
      {"{\"benchmarks\": [{\"name\": \"a\", \"real_time\": -1, \"cpu_time\": 1, \"time_unit\": \"ns\"}]}",
       {"real_time is negative"}},
      {"{\"benchmarks\": [{\"name\": \"a\", \"real_time\": Infinity, \"cpu_time\": 1, \"time_unit\": \"ns\"}]}",
       {"real_time is Infinity"}},
      {"{\"benchmarks\": [{\"name\": \"a\", \"real_time\": 1, \"cpu_time\": -NaN, \"time_unit\": \"ns\"}]}",
       {"cpu_time is NaN"}},
      {"{\"benchmarks\": [{\"name\": \"a\", \"real_time\": null, \"cpu_time\": 1, \"time_unit\": \"ns\"}]}",
       {"real_time is null (a NaN timing"}},
      {"{\"benchmarks\": [], \"context\": {\"vitbench\": {\"threads\": \"two\"}}}",
       {"context.vitbench: threads must be an integer"}},
      {"{\"benchmarks\": [], \"context\": {\"vitbench\": {\"peak\": {\"fma_gflops\": {\"one\": 3}}}}}",
       {"not a thread count"}},
      {"{\"benchmarks\": [], \"context\": {\"vitbench\": {\"peak\": {\"fma_gflops\": {\"1\": NaN}}}}}",
       {"fma_gflops", "is NaN"}},
      {"{\"benchmarks\": [], \"context\": {\"vitbench\": {\"verification\": [{\"backend\": 3}]}}}",
       {"verification[0]", "backend must be a string"}},
      {"{\"benchmarks\": [], \"context\": \"x\"}", {"context must be an object"}},
      {"{\"benchmarks\": [", {"malformed JSON"}},
      {std::string(200, '[') + std::string(200, ']'), {"nested deeper"}},
      {"", {"malformed JSON"}},
  };
  int i = 0;
  for (const Case& c : cases) {
    const std::string path = dir / ("hostile" + std::to_string(i++) + ".json");
    testing::write_bytes(path, c.text);
    SCOPED_TRACE(c.text.substr(0, 120));
    expect_refused(path, c.says);
  }
  expect_refused(dir / "absent.json", {"cannot open file"});
  expect_refused(dir.path().string(), {"is a folder"});
}

TEST(ReportLoad, NaNCountersAreDroppedWithANote) {
  const Report r = from_text(R"({"benchmarks": [{"name": "a", "real_time": 5, "cpu_time": 5,
      "time_unit": "us", "GFLOP/s": NaN, "label": "NaN here is text"}]})");
  ASSERT_EQ(r.benchmarks.size(), 1u);
  EXPECT_FALSE(r.benchmarks[0].counter("GFLOP/s"));
  EXPECT_EQ(*r.benchmarks[0].median_ns(), 5000);
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes.back().find("GFLOP/s is not finite"), std::string::npos);
}

TEST(ReportLoad, TokensInsideStringsAreLeftAlone) {
  const nlohmann::json j = parse_report_text(R"({"a": "NaN \"Infinity\" -NaN", "b": NaN})", "x");
  EXPECT_EQ(j["a"], "NaN \"Infinity\" -NaN");
  EXPECT_EQ(j["b"], "NaN");
}

TEST(ReportLoad, TimeUnitsConvertToNanoseconds) {
  const Report r = from_text(R"({"benchmarks": [
      {"name": "s", "real_time": 2, "cpu_time": 2, "time_unit": "s"},
      {"name": "ms", "real_time": 2, "cpu_time": 2, "time_unit": "ms"},
      {"name": "us", "real_time": 2, "cpu_time": 2, "time_unit": "us"},
      {"name": "ns", "real_time": 2, "cpu_time": 2, "time_unit": "ns"}]})");
  EXPECT_EQ(*r.find("s")->median_ns(), 2e9);
  EXPECT_EQ(*r.find("ms")->median_ns(), 2e6);
  EXPECT_EQ(*r.find("us")->median_ns(), 2e3);
  EXPECT_EQ(*r.find("ns")->median_ns(), 2.0);
}

TEST(ReportPaths, FoldersExpandToTheirJsonFilesOnly) {
  TempDir dir;
  testing::write_bytes(dir / "b.json", "{}");
  testing::write_bytes(dir / "a.json", "{}");
  testing::write_bytes(dir / "index.html", "");
  std::filesystem::create_directories(dir.path() / "schema");
  testing::write_bytes(dir / "schema/report.schema.json", "{}");
  const auto files = expand_report_paths({dir.path().string(), fixture("base.json")});
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0], dir / "a.json");
  EXPECT_EQ(files[1], dir / "b.json");
  EXPECT_EQ(files[2], fixture("base.json"));
  EXPECT_THROW(expand_report_paths({dir / "nope"}), core::Error);
}

}  // namespace
}  // namespace vitbench::reports
