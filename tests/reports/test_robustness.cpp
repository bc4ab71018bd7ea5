// Property: a report corrupted anywhere (a value replaced by another type, NaN, a huge or
// negative number, or removed) is either refused with core::Error or read; and whatever is read
// goes through compare, export and the dashboard without any other exception or crash. Each run
// draws fresh corruptions from a logged seed (VITBENCH_TEST_SEED replays one, as in every suite).
#include <cstdlib>
#include <iostream>
#include <random>
#include <typeinfo>

#include <gtest/gtest.h>

#include "core/error.h"
#include "reports/compare.h"
#include "reports/dashboard.h"
#include "reports/export.h"
#include "reports/validate.h"
#include "tests/reports/reports_test_util.h"
#include "tests/run_seed.h"

namespace vitbench::reports {
namespace {

using nlohmann::json;

json corrupt_value(std::mt19937_64& rng) {
  switch (rng() % 10) {
    case 0: return nullptr;
    case 1: return "NaN";
    case 2: return "Infinity";
    case 3: return "text";
    case 4: return -1;
    case 5: return 1e308;
    case 6: return true;
    case 7: return json::object();
    case 8: return json::array({1, "x"});
    default: return 0;
  }
}

TEST(Robustness, CorruptedReportsAreRefusedOrSurvive) {
  const uint64_t seed = tests::run_seed();
  SCOPED_TRACE("VITBENCH_TEST_SEED=" + std::to_string(seed));
  std::cout << "seed " << seed << "\n";
  std::mt19937_64 rng(seed);
  const json good = testing::fixture_json("new_accuracy.json");
  const Report base = load_report(testing::fixture("base.json"));
  const json flat = good.flatten();
  std::vector<std::string> leaves;
  for (auto it = flat.begin(); it != flat.end(); ++it) leaves.push_back(it.key());

  CompareOptions cross;
  cross.cross_machine = true;
  int refused = 0, read = 0;
  for (int trial = 0; trial < 150; ++trial) {
    json bad = good;
    const int edits = 1 + int(rng() % 3);
    std::string what;
    for (int e = 0; e < edits; ++e) {
      // A leaf, or one of its parents, replaced or removed.
      json::json_pointer p(leaves[rng() % leaves.size()]);
      for (int up = int(rng() % 3); up > 0 && !p.empty(); --up) p = p.parent_pointer();
      if (p.empty()) continue;
      try {
        if (rng() % 4 == 0) {
          json& parent = bad.at(p.parent_pointer());
          if (parent.is_object()) parent.erase(p.back());
        } else {
          bad.at(p) = corrupt_value(rng);
        }
        what += " " + p.to_string();
      } catch (const json::exception&) {
        // An earlier edit in this trial replaced a parent: nothing left to edit here.
      }
    }
    SCOPED_TRACE("trial " + std::to_string(trial) + " edits" + what);
    try {
      const Report r = parse_report(bad, "bad.json");
      ++read;
      const Comparison c = compare_reports(base, r, cross);
      render_comparison(c, TextFormat::Text);
      render_comparison(c, TextFormat::Markdown);
      comparison_json(c).dump();
      render_across(compare_across({base, r}), TextFormat::Text);
      std::vector<std::string> notes;
      export_reports({r}, ExportFormat::GabSmaller, notes).dump();
      export_reports({r}, ExportFormat::GabBigger, notes).dump();
      export_reports({r}, ExportFormat::Bmf, notes).dump();
      render_dashboard({{base, r}, {}}, {});
    } catch (const core::Error& e) {
      ++refused;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "escaped as " << typeid(e).name() << ": " << e.what();
    }
    try {
      validate_report(bad, "bad.json");
    } catch (const core::Error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "validate_report escaped as " << typeid(e).name() << ": " << e.what();
    }
  }
  // Both outcomes must occur, or the corruptions are not reaching what matters.
  EXPECT_GT(refused, 0);
  EXPECT_GT(read, 0);
}

}  // namespace
}  // namespace vitbench::reports
