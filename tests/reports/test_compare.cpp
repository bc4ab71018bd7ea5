// compare: the CI gate. It must flag an injected 20% slowdown and an injected accuracy
// regression, pass two identical reports, list what it cannot pair, and refuse reports from
// different machines unless told.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "core/error.h"
#include "reports/compare.h"
#include "tests/reports/reports_test_util.h"

namespace vitbench::reports {
namespace {

using testing::fixture;
using testing::fixture_json;

const BenchmarkRow* row(const Comparison& c, const std::string& name) {
  for (const BenchmarkRow& r : c.rows) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

Comparison compare_fixtures(const std::string& base, const std::string& now,
                            const CompareOptions& o = {}) {
  return compare_reports(load_report(fixture(base)), load_report(fixture(now)), o);
}

TEST(Compare, IdenticalReportsPass) {
  const Comparison c = compare_fixtures("base.json", "new_same.json");
  EXPECT_FALSE(c.regressed()) << render_comparison(c, TextFormat::Text);
  EXPECT_EQ(c.rows.size(), 10u);
  EXPECT_TRUE(c.only_in_base.empty());
  EXPECT_TRUE(c.only_in_new.empty());
  EXPECT_TRUE(c.accuracy.empty());
  for (const BenchmarkRow& r : c.rows) {
    EXPECT_EQ(r.verdict, "unchanged") << r.name;
    EXPECT_EQ(r.ratio, 1.0) << r.name;
    ASSERT_TRUE(r.p_value) << r.name;
    EXPECT_EQ(*r.p_value, 1.0) << r.name;
  }
  // And a report against itself.
  EXPECT_FALSE(compare_fixtures("base.json", "base.json").regressed());
}

TEST(Compare, FlagsAnInjectedTwentyPercentSlowdown) {
  const Comparison c = compare_fixtures("base.json", "new_slow.json");
  EXPECT_TRUE(c.regressed());
  EXPECT_EQ(c.performance_regressions(), 1u);
  EXPECT_EQ(c.accuracy_regressions(), 0u);
  const BenchmarkRow* slow = row(c, "model/vit-ti16@224/b1/t2/hwy");
  ASSERT_NE(slow, nullptr);
  EXPECT_EQ(slow->verdict, "regression");
  EXPECT_TRUE(slow->regression);
  EXPECT_NEAR(slow->ratio, 1.2, 1e-9);
  // Every new repetition is slower than every base one: the most extreme of C(10,5) outcomes.
  ASSERT_TRUE(slow->p_value);
  EXPECT_NEAR(*slow->p_value, 2.0 / 252, 1e-12);
  EXPECT_EQ(slow->significance, "significant");
  EXPECT_NEAR(*slow->base_gflops / *slow->new_gflops, 1.2, 1e-9);

  // 2% slower and significant, but under the 5% minimum effect: not a regression.
  const BenchmarkRow* small = row(c, "op/linear/vit-ti16@224/197x576x192/t2/hwy");
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(small->verdict, "unchanged");
  EXPECT_FALSE(small->regression);
  const BenchmarkRow* faster = row(c, "op/attention/vit-ti16@224/197x3x64/t2/flash");
  ASSERT_NE(faster, nullptr);
  EXPECT_EQ(faster->verdict, "improvement");

  // Not silently dropped.
  EXPECT_EQ(c.only_in_base, std::vector<std::string>{"op/softmax/vit-ti16@224/591x197/t2/hwy"});
  EXPECT_EQ(c.only_in_new, std::vector<std::string>{"op/softmax/vit-ti16@224/591x197/t2/flash"});
  const std::string text = render_comparison(c, TextFormat::Text);
  EXPECT_NE(text.find("REGRESSION +20.0%"), std::string::npos) << text;
  EXPECT_NE(text.find("Only in base (1):"), std::string::npos) << text;
  EXPECT_NE(text.find("op/softmax/vit-ti16@224/591x197/t2/flash"), std::string::npos) << text;
  EXPECT_NE(text.find("FAIL: 1 performance regression, 0 accuracy regressions"), std::string::npos)
      << text;
}

TEST(Compare, ThresholdIsTheMinimumEffect) {
  CompareOptions o;
  o.threshold = 0.25;  // the 20% slowdown is now under the threshold
  EXPECT_FALSE(compare_fixtures("base.json", "new_slow.json", o).regressed());
  // With a 1% threshold the 2% change is large enough, but its repetitions overlap the
  // base's (+-2% jitter): noise, not a regression.
  o.threshold = 0.01;
  const Comparison c = compare_fixtures("base.json", "new_slow.json", o);
  EXPECT_EQ(c.performance_regressions(), 1u);
  const BenchmarkRow* small = row(c, "op/linear/vit-ti16@224/197x576x192/t2/hwy");
  EXPECT_EQ(small->verdict, "noise");
  EXPECT_EQ(small->significance, "not significant");
  EXPECT_FALSE(small->regression);
}

TEST(Compare, FlagsAnInjectedAccuracyRegression) {
  const Comparison c = compare_fixtures("base.json", "new_accuracy.json");
  EXPECT_TRUE(c.regressed());
  EXPECT_EQ(c.performance_regressions(), 0u);
  std::vector<std::string> found;
  for (const AccuracyFinding& a : c.accuracy) {
    if (a.regression) found.push_back(a.backend + "/" + a.case_name + "/" + a.metric);
  }
  std::sort(found.begin(), found.end());
  // hwy: max_rel_error 1.2e-6 -> 4e-4 (333x) and NMSE 2.9e-13 -> 3e-9; blis fails outright
  // (its case fails too, with worse figures and a lost top-1 match).
  const std::vector<std::string> expected = {
      "blis//passed",           "blis/odd-72x3-b3/argmax_agree", "blis/odd-72x3-b3/cosine",
      "blis/odd-72x3-b3/max_rel_error", "blis/odd-72x3-b3/nmse", "blis/odd-72x3-b3/passed",
      "hwy/odd-72x3-b3/max_rel_error",  "hwy/odd-72x3-b3/nmse"};
  EXPECT_EQ(found, expected);
  // blis lost its benchmarks with its verification: listed, not a performance regression.
  EXPECT_EQ(c.only_in_base.size(), 2u);
  const std::string text = render_comparison(c, TextFormat::Text);
  EXPECT_NE(text.find("Accuracy regressions (8):"), std::string::npos) << text;
  EXPECT_NE(text.find("blis: now fails verification"), std::string::npos) << text;
  EXPECT_NE(text.find("first failing tap block.0.attn_out"), std::string::npos) << text;
}

TEST(Compare, AccuracyWithinToleranceIsNotARegression) {
  Report base = load_report(fixture("base.json"));
  Report now = load_report(fixture("base.json"));
  // 1.5x worse and under the absolute floor: both allowed.
  now.verification[0].cases[0].logits["max_rel_error"] *= 1.5;
  now.verification[1].cases[0].logits["max_rel_error"] += 5e-6;
  EXPECT_FALSE(compare_reports(base, now, {}).regressed());
  // NaN logits are always a regression.
  now.verification[2].cases[0].logits["max_rel_error"] = NAN;
  const Comparison c = compare_reports(base, now, {});
  EXPECT_EQ(c.accuracy_regressions(), 1u);
  EXPECT_EQ(c.accuracy[0].backend, "flash");
}

TEST(Compare, NonFiniteFiguresWrittenAsNullAreRegressions) {
  // The harness writes a non-finite metric as null ("not finite"), as core::to_json does.
  nlohmann::json j = testing::fixture_json("base.json");
  j["context"]["vitbench"]["verification"][0]["cases"][1]["logits"]["max_rel_error"] = nullptr;
  const Report now = parse_report(j, "nulls.json");
  EXPECT_TRUE(std::isnan(now.verification[0].cases[1].logits.at("max_rel_error")));
  const Comparison c = compare_reports(load_report(fixture("base.json")), now, {});
  ASSERT_EQ(c.accuracy_regressions(), 1u);
  EXPECT_EQ(c.accuracy[0].case_name, "vit-ti16-224-b1");
}

TEST(Compare, CrossingTheVerifiersToleranceIsARegression) {
  Report base = load_report(fixture("base.json"));
  Report now = base;
  for (Report* r : {&base, &now}) r->verification[0].cases[0].logits["tolerance"] = 1.5e-6;
  // 1.2e-6 -> 1.6e-6: within the growth factor and floor, but over the verifier's own mark.
  now.verification[0].cases[0].logits["max_rel_error"] = 1.6e-6;
  const Comparison c = compare_reports(base, now, {});
  ASSERT_EQ(c.accuracy_regressions(), 1u);
  EXPECT_NE(c.accuracy[0].message.find("above its tolerance"), std::string::npos);
}

TEST(Compare, NewlyFailingBenchmarkIsARegression) {
  Report base = load_report(fixture("base.json"));
  Report now = base;
  now.benchmarks[0].error = "out of memory";
  const Comparison c = compare_reports(base, now, {});
  EXPECT_EQ(c.performance_regressions(), 1u);
  ASSERT_EQ(c.failures.size(), 1u);
  EXPECT_TRUE(c.failures[0].regression);
}

TEST(Compare, TooFewRepetitionsSaySoAndTheThresholdDecides) {
  Report base = load_report(fixture("base.json"));
  Report now = base;
  for (Benchmark* b : {&base.benchmarks[0], &now.benchmarks[0]}) b->times_ns.resize(3);
  for (double& t : now.benchmarks[0].times_ns) t *= 1.3;
  now.benchmarks[1].times_ns.resize(1);
  base.benchmarks[1].times_ns.resize(1);
  const Comparison c = compare_reports(base, now, {});
  const BenchmarkRow& r0 = c.rows[0];
  EXPECT_EQ(r0.significance, "not enough repetitions");
  EXPECT_FALSE(r0.p_value);
  EXPECT_TRUE(r0.regression) << "a gate that cannot tell noise must not pass a 30% slowdown";
  EXPECT_EQ(c.rows[1].significance, "not enough repetitions");
  EXPECT_FALSE(c.rows[1].regression);
  const std::string text = render_comparison(c, TextFormat::Text);
  EXPECT_NE(text.find("not enough repetitions: 3 vs 3"), std::string::npos) << text;
}

TEST(Compare, NoisyChangesAreNotRegressions) {
  Report base = load_report(fixture("base.json"));
  Report now = base;
  // Median 10% slower, but the samples overlap: not significant at 5 vs 5.
  base.benchmarks[0].times_ns = {100, 101, 102, 130, 131};
  now.benchmarks[0].times_ns = {99, 103, 112.2, 129, 132};
  const Comparison c = compare_reports(base, now, {});
  EXPECT_EQ(c.rows[0].verdict, "noise");
  EXPECT_EQ(c.rows[0].significance, "not significant");
  EXPECT_FALSE(c.regressed());
}

TEST(Compare, RefusesDifferentMachinesUnlessCrossMachine) {
  const Report a = load_report(fixture("base.json"));
  const Report b = load_report(fixture("machine_b.json"));
  try {
    compare_reports(a, b, {});
    ADD_FAILURE() << "different CPUs accepted";
  } catch (const core::Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind(fixture("machine_b.json"), 0), 0u) << m;
    EXPECT_NE(m.find("--cross-machine"), std::string::npos) << m;
  }
  Report fewer_threads = a;
  fewer_threads.machine.threads = 1;
  EXPECT_THROW(compare_reports(a, fewer_threads, {}), core::Error);
  // A report that does not say where it ran cannot be checked, so it is refused too.
  EXPECT_THROW(compare_reports(a, load_report(fixture("missing_fields.json")), {}), core::Error);

  CompareOptions o;
  o.cross_machine = true;
  const Comparison c = compare_reports(a, b, o);
  EXPECT_TRUE(c.rows.empty());  // t2 and t4 names never pair
  EXPECT_EQ(c.only_in_base.size(), 10u);
  EXPECT_EQ(c.only_in_new.size(), 6u);
  EXPECT_NE(c.notes.back().find("comparing different machines"), std::string::npos);
  // Missing fields compare by name with notes, never crash.
  const Comparison m = compare_reports(a, load_report(fixture("missing_fields.json")), o);
  EXPECT_FALSE(m.notes.empty());
  EXPECT_EQ(m.failures.size(), 1u);
}

TEST(Compare, JsonSummaryIsMachineReadable) {
  const nlohmann::json j = comparison_json(compare_fixtures("base.json", "new_slow.json"));
  EXPECT_EQ(j["vitbench_compare"], 1);
  EXPECT_EQ(j["summary"]["passed"], false);
  EXPECT_EQ(j["summary"]["performance_regressions"], 1);
  EXPECT_EQ(j["summary"]["improvements"], 1);
  EXPECT_EQ(j["summary"]["compared"], 9);
  EXPECT_EQ(j["threshold"], 0.05);
  EXPECT_EQ(j["only_in_base"].size(), 1u);
  bool seen = false;
  for (const auto& b : j["benchmarks"]) {
    ASSERT_TRUE(b["base_median_ns"].is_number());
    ASSERT_TRUE(b["ratio"].is_number());
    ASSERT_TRUE(b["significance"].is_string());
    if (b["name"] == "model/vit-ti16@224/b1/t2/hwy") {
      seen = true;
      EXPECT_EQ(b["verdict"], "regression");
      EXPECT_NEAR(b["new_median_ns"].get<double>(), 36e6, 1e-3);
      EXPECT_NEAR(b["p_value"].get<double>(), 2.0 / 252, 1e-12);
    }
  }
  EXPECT_TRUE(seen);
  // It round-trips through text.
  EXPECT_EQ(nlohmann::json::parse(j.dump()), j);
}

TEST(Compare, MarkdownForJobSummaries) {
  const std::string md =
      render_comparison(compare_fixtures("base.json", "new_slow.json"), TextFormat::Markdown);
  EXPECT_NE(md.find("| benchmark | base median |"), std::string::npos) << md;
  EXPECT_NE(md.find("**FAIL**"), std::string::npos) << md;
}

// ---- Rounds of an alternated run (compare --rounds) ----

constexpr const char* kModelHwy = "model/vit-ti16@224/b1/t2/hwy";

// `r` with every repetition of benchmark `name` `factor` times as long.
Report slowed(Report r, const std::string& name, double factor) {
  for (Benchmark& b : r.benchmarks) {
    if (b.name != name) continue;
    for (double& t : b.times_ns) t *= factor;
    if (b.median_aggregate_ns) *b.median_aggregate_ns *= factor;
  }
  return r;
}

// Rounds base·s_i, base·s_i·f_i: the new side's time for kModelHwy is f_i times the base's in
// round i, and the whole round runs s_i times as long as the fixture (the machine's spell; 1
// when `spells` is empty).
std::vector<Report> rounds_with_ratios(const std::vector<double>& factors,
                                       const std::vector<double>& spells = {}) {
  const Report base = load_report(fixture("base.json"));
  std::vector<Report> reports;
  for (size_t i = 0; i < factors.size(); ++i) {
    const double spell = spells.empty() ? 1.0 : spells.at(i);
    reports.push_back(slowed(base, kModelHwy, spell));
    reports.push_back(slowed(base, kModelHwy, spell * factors[i]));
  }
  return reports;
}

TEST(CompareRounds, ASlowdownInEveryRoundIsASignificantRegression) {
  const Comparison c = compare_rounds(rounds_with_ratios({1.2, 1.15, 1.25, 1.18, 1.22, 1.2}), {});
  EXPECT_EQ(c.rounds, 6u);
  const BenchmarkRow* r = row(c, kModelHwy);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->rounds, 6u);
  EXPECT_NEAR(r->ratio, 1.2, 1e-12);  // the median of the six ratios
  EXPECT_NEAR(r->ratio_min, 1.15, 1e-12);
  EXPECT_NEAR(r->ratio_max, 1.25, 1e-12);
  ASSERT_TRUE(r->p_value);
  EXPECT_NEAR(*r->p_value, 2.0 / 64, 1e-12);  // all six the same sign
  EXPECT_EQ(r->verdict, "regression");
  EXPECT_EQ(c.performance_regressions(), 1u);
  // The repetitions of every round are counted.
  const Report base = load_report(fixture("base.json"));
  EXPECT_EQ(r->base_repetitions, 6 * base.find(kModelHwy)->times_ns.size());
  const std::string text = render_comparison(c, TextFormat::Text);
  EXPECT_NE(text.find("Wilcoxon signed-rank over the rounds"), std::string::npos) << text;
  EXPECT_NE(text.find("Performance: 10 benchmarks in every round"), std::string::npos) << text;
  EXPECT_NE(text.find("1.150 to 1.250"), std::string::npos) << text;
  EXPECT_NE(text.find("REGRESSION +20.0% (significant)"), std::string::npos) << text;
  const nlohmann::json j = comparison_json(c);
  EXPECT_EQ(j["rounds"], 6);
  EXPECT_EQ(j["summary"]["performance_regressions"], 1);
}

// The effect is the median of the rounds' own ratios, each new run against the base beside it,
// not the ratio of the median times across rounds, which mixes the machine's spells into it:
// here the rounds alternate between a fast and a twice-as-slow machine, and the change costs
// 30% in the fast rounds and 5% in the slow ones. Medians of the ratios: (1.05 + 1.3) / 2;
// of the times: base (1 + 2) / 2 = 1.5, new (1.3 + 2.1) / 2 = 1.7, a ratio of 1.133.
TEST(CompareRounds, TheEffectIsTheMedianOfTheRoundsOwnRatios) {
  const Comparison c = compare_rounds(rounds_with_ratios({1.3, 1.05, 1.3, 1.05, 1.3, 1.05},
                                                         {1.0, 2.0, 1.0, 2.0, 1.0, 2.0}),
                                      {});
  const BenchmarkRow* r = row(c, kModelHwy);
  ASSERT_NE(r, nullptr);
  EXPECT_NEAR(r->ratio, 1.175, 1e-12);
  EXPECT_NEAR(r->ratio_min, 1.05, 1e-12);
  EXPECT_NEAR(r->ratio_max, 1.3, 1e-12);
  const double base_median = load_report(fixture("base.json")).find(kModelHwy)->median_ns().value();
  EXPECT_NEAR(r->base_ns / base_median, 1.5, 1e-12);
  EXPECT_NEAR(r->new_ns / base_median, 1.7, 1e-12);
  EXPECT_EQ(r->verdict, "regression");
}

TEST(CompareRounds, ASlowdownThatChangesSignBetweenRoundsIsNoise) {
  // A median 21% slower, but two rounds of six faster: the machine's spells, not the change.
  const Comparison c = compare_rounds(rounds_with_ratios({1.3, 1.25, 0.8, 1.2, 0.85, 1.22}), {});
  const BenchmarkRow* r = row(c, kModelHwy);
  ASSERT_NE(r, nullptr);
  EXPECT_NEAR(r->ratio, 1.21, 1e-12);
  ASSERT_TRUE(r->p_value);
  EXPECT_GT(*r->p_value, 0.05);
  EXPECT_EQ(r->verdict, "noise");
  EXPECT_FALSE(c.regressed()) << render_comparison(c, TextFormat::Text);
}

TEST(CompareRounds, TooFewRoundsSaySoAndTheThresholdDecides) {
  const Comparison slow = compare_rounds(rounds_with_ratios({1.2, 1.2, 1.2}), {});
  const BenchmarkRow* r = row(slow, kModelHwy);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->significance, "not enough rounds");
  EXPECT_FALSE(r->p_value);
  EXPECT_EQ(r->verdict, "regression");
  EXPECT_NE(render_comparison(slow, TextFormat::Text).find("(not enough rounds: 3)"),
            std::string::npos);
  const Comparison same = compare_rounds(rounds_with_ratios({1.01, 0.99, 1.0}), {});
  EXPECT_FALSE(same.regressed());
  for (const BenchmarkRow& b : same.rows) EXPECT_EQ(b.verdict, "unchanged") << b.name;
}

TEST(CompareRounds, WhatIsNotInEveryRoundIsListedAndAccuracyIsGathered) {
  std::vector<Report> reports = rounds_with_ratios({1.0, 1.0, 1.0});
  // Round 2's new report lacks the model benchmark; round 3's is less accurate.
  auto& missing = reports[3].benchmarks;
  missing.erase(std::remove_if(missing.begin(), missing.end(),
                               [](const Benchmark& b) { return b.name == kModelHwy; }),
                missing.end());
  reports[5] = load_report(fixture("new_accuracy.json"));
  const Comparison c = compare_rounds(reports, {});
  EXPECT_FALSE(row(c, kModelHwy));
  EXPECT_NE(std::find(c.only_in_base.begin(), c.only_in_base.end(), kModelHwy),
            c.only_in_base.end());
  // Benchmarks the same in every round: p 1, not "not enough rounds" (no round differs at all).
  const Comparison same = compare_rounds(rounds_with_ratios(std::vector<double>(6, 1.0)), {});
  for (const BenchmarkRow& b : same.rows) {
    EXPECT_EQ(b.significance, "not significant") << b.name;
    EXPECT_EQ(b.p_value.value_or(0), 1.0) << b.name;
  }
  const auto note = std::find_if(c.notes.begin(), c.notes.end(), [](const std::string& n) {
    return n == std::string(kModelHwy) + ": compared in 2 of 3 rounds only, so not judged";
  });
  EXPECT_NE(note, c.notes.end()) << render_comparison(c, TextFormat::Text);
  EXPECT_GT(c.accuracy_regressions(), 0u);
  // Each finding once, however many rounds repeat it.
  const Comparison once = compare_rounds({load_report(fixture("base.json")),
                                          load_report(fixture("new_accuracy.json")),
                                          load_report(fixture("base.json")),
                                          load_report(fixture("new_accuracy.json"))},
                                         {});
  const Comparison pair = compare_fixtures("base.json", "new_accuracy.json");
  EXPECT_EQ(once.accuracy.size(), pair.accuracy.size());
}

TEST(CompareRounds, RefusesOddCountsASingleRoundAndOtherMachines) {
  const Report base = load_report(fixture("base.json"));
  const auto message = [](const std::vector<Report>& reports, const CompareOptions& o = {}) {
    try {
      compare_rounds(reports, o);
    } catch (const core::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({base, base, base}).find("at least two rounds; got 3 reports"),
            std::string::npos);
  EXPECT_NE(message({base, base}).find("at least two rounds; got 2 reports"), std::string::npos);
  const Report b = load_report(fixture("machine_b.json"));
  EXPECT_NE(message({base, base, base, b}).find("is not the base's"), std::string::npos);
  CompareOptions cross;
  cross.cross_machine = true;
  EXPECT_EQ(message({base, base, base, b}, cross), "");
}

TEST(CompareAcross, OneColumnPerMachineAndWinners) {
  std::vector<Report> reports = {load_report(fixture("new_slow.json")),
                                 load_report(fixture("base.json")),
                                 load_report(fixture("machine_b.json"))};
  const AcrossTable t = compare_across(reports);
  ASSERT_EQ(t.machines.size(), 2u);
  EXPECT_EQ(t.machines[0], "AMD EPYC 7B13/AVX2/t2");
  EXPECT_EQ(t.machines[1], "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz/AVX3/t4");
  // vit-ti16 b1 x {blis, flash, hwy, peer:onnxruntime}
  ASSERT_EQ(t.rows.size(), 4u);
  const auto& hwy = t.rows[2];
  EXPECT_EQ(hwy.backend, "hwy");
  ASSERT_TRUE(hwy.cells[0]);
  // new_slow (dated later) wins over base for machine A: its slowed 36 ms.
  EXPECT_NEAR(hwy.cells[0]->latency_ns, 36e6, 1e-3);
  EXPECT_NEAR(*hwy.cells[0]->percent_peak, 100.0 * 70.0 / 176.0, 1e-9);
  EXPECT_NEAR(*hwy.cells[1]->gflops, 2.52e9 / 9e6, 1e-9);
  EXPECT_FALSE(t.rows[3].cells[1]) << "no onnxruntime run on machine B";
  ASSERT_EQ(t.winners.size(), 2u);
  EXPECT_EQ(t.winners[0].backend, "peer:onnxruntime");
  EXPECT_EQ(t.winners[0].best_own_backend, "blis");
  EXPECT_EQ(t.winners[1].backend, "flash");
  EXPECT_TRUE(t.winners[1].best_own_backend.empty());
  const std::string text = render_across(t, TextFormat::Text);
  EXPECT_NE(text.find("on Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz/AVX3/t4: flash"),
            std::string::npos)
      << text;
  const nlohmann::json j = across_json(t);
  EXPECT_EQ(j["machines"].size(), 2u);
  EXPECT_TRUE(j["rows"][3]["cells"][1].is_null());
}

// A report run at several thread counts (`vitbench bench --threads 1,2`) gives each count its
// own column: its 1-thread runs neither join the machine's 2-thread column nor overwrite its
// cells there.
TEST(CompareAcross, EachThreadCountOfAReportIsItsOwnColumn) {
  nlohmann::json j = fixture_json("base.json");
  const std::string two = "model/vit-ti16@224/b1/t2/hwy/";
  nlohmann::json one_thread = nlohmann::json::array();
  for (const nlohmann::json& b : j["benchmarks"]) {
    if (b["name"].get<std::string>().rfind(two, 0) != 0) continue;
    nlohmann::json c = b;
    for (const char* key : {"name", "run_name"}) {
      std::string name = c[key];
      c[key] = name.replace(0, two.size(), "model/vit-ti16@224/b1/t1/hwy/");
    }
    c["threads"] = 1;
    if (c.value("aggregate_name", "") != "cv") {
      for (const char* key : {"real_time", "cpu_time"}) c[key] = c[key].get<double>() * 1.8;
    }
    one_thread.push_back(c);
  }
  ASSERT_FALSE(one_thread.empty());
  for (const nlohmann::json& c : one_thread) j["benchmarks"].push_back(c);
  const AcrossTable t = compare_across({parse_report(j, "threads.json")});

  ASSERT_EQ(t.machines,
            (std::vector<std::string>{"AMD EPYC 7B13/AVX2/t1", "AMD EPYC 7B13/AVX2/t2"}));
  const auto hwy = std::find_if(t.rows.begin(), t.rows.end(),
                                [](const AcrossTable::Row& r) { return r.backend == "hwy"; });
  ASSERT_NE(hwy, t.rows.end());
  ASSERT_TRUE(hwy->cells[0] && hwy->cells[1]);
  EXPECT_NEAR(hwy->cells[0]->latency_ns / hwy->cells[1]->latency_ns, 1.8, 1e-9);
  for (const AcrossTable::Row& r : t.rows) {
    if (r.backend != "hwy") {
      EXPECT_FALSE(r.cells[0]) << r.backend << " ran at 2 threads only";
    }
  }
}

TEST(CompareAcross, SaysWhenAColumnMixesReports) {
  const Report base = load_report(fixture("base.json"));
  const std::string column = compare_across({base}).machines.at(0);
  EXPECT_TRUE(compare_across({base, base}).notes.empty()) << "the same report twice mixes nothing";
  // A later run of the same machine with one benchmark fewer: that cell still comes from base.
  Report later = base;
  later.path = "later.json";
  later.epoch = *base.epoch + 60;
  const auto is_model = [](const Benchmark& b) { return b.id.kind == BenchName::Kind::Model; };
  const auto model = std::find_if(later.benchmarks.begin(), later.benchmarks.end(), is_model);
  ASSERT_NE(model, later.benchmarks.end());
  later.benchmarks.erase(model);
  const AcrossTable t = compare_across({base, later});
  ASSERT_EQ(t.notes.size(), 1u);
  EXPECT_EQ(t.notes[0].rfind(column + ": its column mixes 2 reports", 0), 0u) << t.notes[0];
  EXPECT_NE(t.notes[0].find("later.json"), std::string::npos) << t.notes[0];
  EXPECT_NE(render_across(t, TextFormat::Text).find("its column mixes"), std::string::npos);
}

TEST(CompareAcross, SurvivesReportsWithoutContext) {
  const AcrossTable t = compare_across({load_report(fixture("missing_fields.json"))});
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_FALSE(t.rows[0].cells[0]->gflops);
  EXPECT_FALSE(t.rows[0].cells[0]->percent_peak);
  EXPECT_FALSE(render_across(t, TextFormat::Text).empty());
}

}  // namespace
}  // namespace vitbench::reports
