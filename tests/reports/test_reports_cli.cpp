// The commands as CI runs them: exit 0 when nothing regressed, 1 on a regression, 2 with one
// line naming the file when an input is refused; outputs appear whole or not at all.
#include <filesystem>

#include <gtest/gtest.h>

#include "tests/reports/reports_test_util.h"

namespace vitbench::reports {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CommandResult;
using testing::fixture;
using testing::TempDir;

CommandResult vitbench(const std::vector<std::string>& args, const TempDir& dir) {
  return testing::run_command(VITBENCH_CLI, args, dir);
}

void expect_refused(const CommandResult& r, const std::string& names, const std::string& problem) {
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("vitbench: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  EXPECT_NE(r.err.find(names), std::string::npos) << "should name " << names << ": " << r.err;
  EXPECT_NE(r.err.find(problem), std::string::npos) << "should say " << problem << ": " << r.err;
}

TEST(CompareCli, IdenticalReportsExitZero) {
  TempDir dir;
  const CommandResult r = vitbench({"compare", fixture("base.json"), fixture("new_same.json")}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS: 0 performance regressions, 0 accuracy regressions"), std::string::npos) << r.out;
}

TEST(CompareCli, SlowdownExitsOneAndWritesTheSummary) {
  TempDir dir;
  const std::string summary = dir / "summary.json";
  const CommandResult r = vitbench(
      {"compare", fixture("base.json"), fixture("new_slow.json"), "--json", summary}, dir);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("REGRESSION +20.0%"), std::string::npos) << r.out;
  const json j = json::parse(testing::read_bytes(summary));
  EXPECT_EQ(j["summary"]["performance_regressions"], 1);
  EXPECT_EQ(j["summary"]["passed"], false);
  // With a 25% threshold the same pair passes.
  EXPECT_EQ(vitbench({"compare", fixture("base.json"), fixture("new_slow.json"), "--threshold", "25%"}, dir)
                .exit_code,
            0);
  EXPECT_EQ(vitbench({"compare", fixture("base.json"), fixture("new_slow.json"), "--threshold", "25"}, dir)
                .exit_code,
            0);
}

TEST(CompareCli, RoundsOfAnAlternatedRun) {
  TempDir dir;
  const std::string base = fixture("base.json"), slow = fixture("new_slow.json");
  const std::string summary = dir / "rounds.json";
  const CommandResult r =
      vitbench({"compare", "--rounds", base, slow, base, slow, "--json", summary}, dir);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;  // 20% slower in both rounds: over the threshold
  EXPECT_NE(r.out.find("those are round 1 of 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("REGRESSION +20.0% (not enough rounds: 2)"), std::string::npos) << r.out;
  EXPECT_EQ(json::parse(testing::read_bytes(summary))["rounds"], 2);
  EXPECT_EQ(vitbench({"compare", "--rounds", base, base, base, base}, dir).exit_code, 0);
  expect_refused(vitbench({"compare", "--rounds", base, slow, base}, dir), "compare --rounds",
                 "at least two rounds; got 3 reports");
  expect_refused(vitbench({"compare", "--rounds", "--across", base, slow, base, slow}, dir),
                 "--across excludes --rounds", "");
}

TEST(CompareCli, AccuracyRegressionExitsOne) {
  TempDir dir;
  const CommandResult r = vitbench({"compare", fixture("base.json"), fixture("new_accuracy.json"),
                                    "--format", "markdown"}, dir);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("### Accuracy regressions (8):"), std::string::npos) << r.out;
}

TEST(CompareCli, RefusesWhatItCannotCompare) {
  TempDir dir;
  const std::string summary = dir / "summary.json";
  expect_refused(vitbench({"compare", fixture("base.json"), fixture("machine_b.json"), "--json", summary}, dir),
                 "machine_b.json", "--cross-machine");
  EXPECT_FALSE(fs::exists(summary));
  EXPECT_EQ(vitbench({"compare", fixture("base.json"), fixture("machine_b.json"), "--cross-machine"}, dir)
                .exit_code,
            0);
  expect_refused(vitbench({"compare", fixture("base.json"), fixture("nan_timings.json")}, dir),
                 "nan_timings.json", "real_time is NaN");
  expect_refused(vitbench({"compare", fixture("wrong_types.json"), fixture("base.json")}, dir),
                 "wrong_types.json", "real_time must be a number");
  expect_refused(vitbench({"compare", fixture("base.json")}, dir), "compare", "takes two reports");
  expect_refused(vitbench({"compare", fixture("base.json"), dir / "absent.json"}, dir), "absent.json",
                 "cannot open file");
  expect_refused(vitbench({"compare", fixture("base.json"), fixture("base.json"), "--threshold", "five"}, dir),
                 "--threshold", "not a percentage");
  expect_refused(vitbench({"compare", fixture("base.json"), fixture("base.json"), "--json",
                           dir / "no/such/folder/s.json"}, dir),
                 "s.json", "does not exist");
  expect_refused(vitbench({"compare", fixture("base.json"), fixture("base.json"), "--format", "html"}, dir),
                 "--format", "not text or markdown");
}

TEST(CompareCli, AcrossMachines) {
  TempDir dir;
  const std::string summary = dir / "across.json";
  const CommandResult r = vitbench({"compare", "--across", fixture("base.json"), fixture("machine_b.json"),
                                    "--json", summary}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Winners:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("AMD EPYC 7B13/AVX2/t2"), std::string::npos) << r.out;
  EXPECT_EQ(json::parse(testing::read_bytes(summary))["machines"].size(), 2u);
  // A folder of reports works too; one unreadable report refuses the table.
  const fs::path folder = dir.path() / "reports";
  fs::create_directories(folder);
  fs::copy_file(fixture("base.json"), folder / "a.json");
  fs::copy_file(fixture("machine_b.json"), folder / "b.json");
  EXPECT_EQ(vitbench({"compare", "--across", folder.string()}, dir).exit_code, 0);
  fs::copy_file(fixture("nan_timings.json"), folder / "c.json");
  expect_refused(vitbench({"compare", "--across", folder.string()}, dir), "c.json", "is NaN");
}

TEST(ExportCli, WritesEachFormat) {
  TempDir dir;
  for (const char* format : {"gab-smaller", "gab-bigger", "bmf"}) {
    SCOPED_TRACE(format);
    const std::string out = dir / (std::string(format) + ".json");
    const CommandResult r = vitbench({"export", "--format", format, fixture("base.json"), "-o", out}, dir);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(testing::read_bytes(out));
    EXPECT_EQ(j.size(), 10u);
  }
  const CommandResult to_stdout = vitbench({"export", "--format", "bmf", fixture("base.json")}, dir);
  EXPECT_EQ(to_stdout.exit_code, 0);
  EXPECT_TRUE(json::parse(to_stdout.out).contains("model/vit-ti16@224/b1/t2/hwy"));
  expect_refused(vitbench({"export", "--format", "csv", fixture("base.json")}, dir), "--format", "csv");
  expect_refused(vitbench({"export", "--format", "bmf", fixture("base.json"), fixture("machine_b.json")}, dir),
                 "machine_b.json", "one testbed");
  const CommandResult missing = vitbench({"export", "--format", "gab-bigger", fixture("missing_fields.json")}, dir);
  EXPECT_EQ(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("vitbench: note:"), std::string::npos) << "what was left out is said";
}

TEST(DashboardCli, WritesThePageAndWarnsAboutSkippedReports) {
  TempDir dir;
  fs::create_directories(dir.path() / "reports");
  for (const char* name : {"base.json", "new_slow.json", "machine_b.json", "nan_timings.json"}) {
    fs::copy_file(fixture(name), dir.path() / "reports" / name);
  }
  const std::string out = dir / "reports/index.html";
  const CommandResult r = vitbench({"dashboard", dir / "reports", "-o", out}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("dashboard of 3 report(s) (1 skipped)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("vitbench: warning: skipped"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nan_timings.json"), std::string::npos) << r.err;
  const std::string html = testing::read_bytes(out);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  // A rerun reads the folder again: index.html is not a *.json and is not mistaken for a report.
  EXPECT_EQ(vitbench({"dashboard", dir / "reports", "-o", out}, dir).exit_code, 0);
  expect_refused(vitbench({"dashboard", dir / "nowhere", "-o", out}, dir), "nowhere", "no such file or folder");
  expect_refused(vitbench({"dashboard", dir / "reports", "-o", dir / "no/dir/index.html"}, dir),
                 "index.html", "does not exist");
}

}  // namespace
}  // namespace vitbench::reports
