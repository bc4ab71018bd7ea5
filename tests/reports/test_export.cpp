// Exports checked against the formats' documented fields:
//   github-action-benchmark custom*IsBetter: an array of {name: string, unit: string,
//     value: number, range?: string, extra?: string}, nothing else;
//   Bencher BMF: {"<benchmark>": {"<measure slug>": {value: number, lower_value?: number,
//     upper_value?: number}}}, measure slugs lower-case kebab (at most 64 characters).
#include <set>

#include <gtest/gtest.h>

#include "core/error.h"
#include "reports/export.h"
#include "tests/reports/reports_test_util.h"

namespace vitbench::reports {
namespace {

using nlohmann::json;
using testing::fixture;

void expect_gab_shape(const json& out) {
  ASSERT_TRUE(out.is_array());
  ASSERT_FALSE(out.empty());
  std::set<std::string> names;
  for (const json& e : out) {
    ASSERT_TRUE(e.is_object()) << e;
    for (auto it = e.begin(); it != e.end(); ++it) {
      EXPECT_TRUE(it.key() == "name" || it.key() == "unit" || it.key() == "value" ||
                  it.key() == "range" || it.key() == "extra")
          << "undocumented field " << it.key();
    }
    ASSERT_TRUE(e.contains("name") && e["name"].is_string()) << e;
    ASSERT_TRUE(e.contains("unit") && e["unit"].is_string()) << e;
    ASSERT_TRUE(e.contains("value") && e["value"].is_number()) << e;
    EXPECT_TRUE(std::isfinite(e["value"].get<double>())) << e;
    if (e.contains("range")) {
      EXPECT_TRUE(e["range"].is_string()) << e;
    }
    if (e.contains("extra")) {
      EXPECT_TRUE(e["extra"].is_string()) << e;
    }
    EXPECT_TRUE(names.insert(e["name"]).second) << "one entry per chart: " << e["name"];
  }
}

// Lower-case kebab case: [a-z0-9]+(-[a-z0-9]+)*
bool is_slug(const std::string& s) {
  if (s.empty() || s.front() == '-' || s.back() == '-' || s.find("--") != std::string::npos) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

void expect_bmf_shape(const json& out) {
  ASSERT_TRUE(out.is_object());
  ASSERT_FALSE(out.empty());
  for (auto b = out.begin(); b != out.end(); ++b) {
    EXPECT_FALSE(b.key().empty());
    EXPECT_LE(b.key().size(), 1024u);
    ASSERT_TRUE(b->is_object());
    ASSERT_FALSE(b->empty());
    for (auto m = b->begin(); m != b->end(); ++m) {
      EXPECT_TRUE(is_slug(m.key())) << m.key();
      EXPECT_LE(m.key().size(), 64u);
      ASSERT_TRUE(m->is_object());
      ASSERT_TRUE(m->contains("value") && (*m)["value"].is_number()) << *m;
      for (auto f = m->begin(); f != m->end(); ++f) {
        EXPECT_TRUE(f.key() == "value" || f.key() == "lower_value" || f.key() == "upper_value")
            << f.key();
        EXPECT_TRUE(f->is_number()) << *f;
      }
      if (m->contains("lower_value") && m->contains("upper_value")) {
        EXPECT_LE((*m)["lower_value"].get<double>(), (*m)["value"].get<double>());
        EXPECT_GE((*m)["upper_value"].get<double>(), (*m)["value"].get<double>());
      }
    }
  }
}

const json* find_named(const json& out, const std::string& name) {
  for (const json& e : out) {
    if (e["name"] == name) return &e;
  }
  return nullptr;
}

TEST(Export, GithubActionBenchmarkSmallerIsBetter) {
  std::vector<std::string> notes;
  const json out = export_reports({load_report(fixture("base.json")),
                                   load_report(fixture("machine_b.json"))},
                                  ExportFormat::GabSmaller, notes);
  expect_gab_shape(out);
  EXPECT_EQ(out.size(), 16u);
  // A series per machine key: the same benchmark on two machines is two charts.
  const json* e = find_named(out, "model/vit-ti16@224/b1/t2/hwy [AMD EPYC 7B13/AVX2/t2]");
  ASSERT_NE(e, nullptr) << out.dump(1);
  EXPECT_EQ((*e)["unit"], "ms");
  EXPECT_NEAR((*e)["value"].get<double>(), 30.0, 1e-9);
  // Half the min-max spread of the repetitions (0.985 .. 1.02 of 30 ms).
  EXPECT_EQ((*e)["range"], "± 0.5250");
  EXPECT_NE((*e)["extra"].get<std::string>().find("commit: 1111111"), std::string::npos);
  EXPECT_NE(find_named(out, "model/vit-ti16@224/b1/t4/hwy [Intel(R) Xeon(R) Platinum 8375C CPU @ "
                            "2.90GHz/AVX3/t4]"),
            nullptr);
  const json* op = find_named(out, "op/gelu/vit-ti16@224/197x768/t2/hwy [AMD EPYC 7B13/AVX2/t2]");
  ASSERT_NE(op, nullptr);
  EXPECT_EQ((*op)["unit"], "us");
}

TEST(Export, GithubActionBenchmarkBiggerIsBetter) {
  std::vector<std::string> notes;
  const json out = export_reports({load_report(fixture("base.json"))}, ExportFormat::GabBigger, notes);
  expect_gab_shape(out);
  const json* e = find_named(out, "model/vit-ti16@224/b1/t2/hwy [AMD EPYC 7B13/AVX2/t2]");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ((*e)["unit"], "GFLOP/s");
  EXPECT_NEAR((*e)["value"].get<double>(), 84.0, 1e-9);
  // Reports without GFLOP/s leave those benchmarks out, with a note.
  notes.clear();
  const json partial =
      export_reports({load_report(fixture("missing_fields.json"))}, ExportFormat::GabBigger, notes);
  EXPECT_EQ(partial.size(), 1u);  // only the aggregates-only linear has GFLOP/s
  EXPECT_FALSE(notes.empty());
}

TEST(Export, LaterReportOfAMachineReplacesEarlier) {
  std::vector<std::string> notes;
  const json out = export_reports({load_report(fixture("new_slow.json")),
                                   load_report(fixture("base.json"))},
                                  ExportFormat::GabSmaller, notes);
  expect_gab_shape(out);
  const json* e = find_named(out, "model/vit-ti16@224/b1/t2/hwy [AMD EPYC 7B13/AVX2/t2]");
  ASSERT_NE(e, nullptr);
  EXPECT_NEAR((*e)["value"].get<double>(), 36.0, 1e-9) << "new_slow is dated later";
}

TEST(Export, BencherMetricFormat) {
  std::vector<std::string> notes;
  const json out = export_reports({load_report(fixture("base.json"))}, ExportFormat::Bmf, notes);
  expect_bmf_shape(out);
  EXPECT_EQ(out.size(), 10u);
  const json& m = out.at("model/vit-ti16@224/b1/t2/hwy");
  // Bencher's built-in latency measure is in nanoseconds.
  EXPECT_NEAR(m["latency"]["value"].get<double>(), 30e6, 1e-3);
  EXPECT_NEAR(m["latency"]["lower_value"].get<double>(), 30e6 * 0.985, 1e-3);
  EXPECT_NEAR(m["latency"]["upper_value"].get<double>(), 30e6 * 1.02, 1e-3);
  EXPECT_NEAR(m["gflops"]["value"].get<double>(), 84.0, 1e-9);
  // Failed benchmarks are left out with a note; the rest still export.
  notes.clear();
  const json partial = export_reports({load_report(fixture("missing_fields.json"))}, ExportFormat::Bmf, notes);
  expect_bmf_shape(partial);
  EXPECT_FALSE(partial.contains("op/gelu/vit-ti16@224/197x768/t2/hwy"));
}

TEST(Export, BencherRefusesSeveralMachinesInOneFile) {
  std::vector<std::string> notes;
  EXPECT_THROW(export_reports({load_report(fixture("base.json")), load_report(fixture("machine_b.json"))},
                              ExportFormat::Bmf, notes),
               core::Error);
}

TEST(Export, SlugCheckCanFail) {
  EXPECT_TRUE(is_slug("latency"));
  EXPECT_TRUE(is_slug("build-time"));
  for (const char* bad : {"", "GFLOP/s", "-x", "x-", "a--b", "percent peak"}) EXPECT_FALSE(is_slug(bad)) << bad;
}

TEST(Export, FormatNames) {
  EXPECT_EQ(parse_export_format("gab-smaller"), ExportFormat::GabSmaller);
  EXPECT_EQ(parse_export_format("gab-bigger"), ExportFormat::GabBigger);
  EXPECT_EQ(parse_export_format("bmf"), ExportFormat::Bmf);
  EXPECT_FALSE(parse_export_format("csv"));
}

}  // namespace
}  // namespace vitbench::reports
