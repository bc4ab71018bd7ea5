// The reference against the ViT-S/16 and ViT-B/16 goldens at 224: 9 and 35 GFLOP through the
// naive float64 reference (about 11 s and 40 s on two cores), so this executable is labelled
// slow and the sanitizer pass leaves it out.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "golden/verify.h"
#include "golden_test_util.h"
#include "reference/vit.h"

namespace vitbench::golden {
namespace {

void expect_reference_passes(const std::string& name) {
  const Runner reference{"reference", kReferenceClass,
                         [](const core::Model& m, const core::Tensor& images, core::Taps* taps,
                            size_t threads) { return reference::forward(m, images, taps, threads); }};
  const VerifyReport report =
      verify({load_case(testing::cases_dir() + "/" + name)}, {reference}, 2);
  ASSERT_EQ(report.results.size(), 1u);
  const CaseResult& r = report.results[0];
  std::ostringstream table;
  print_table(report, table);
  EXPECT_TRUE(r.passed()) << table.str();
  const TapResult* logits = r.find_tap("logits");
  ASSERT_NE(logits, nullptr);
  // The bound on the reference's logits, checked directly as well as by the policy.
  EXPECT_LE(logits->comparison.max_rel_error, 1e-5) << table.str();
  EXPECT_TRUE(logits->comparison.all_argmax_agree());
}

TEST(ReferenceVerifySlow, PassesViTS16) { expect_reference_passes("vit-s16-224-logits"); }
TEST(ReferenceVerifySlow, PassesViTB16) { expect_reference_passes("vit-b16-224-logits"); }

}  // namespace
}  // namespace vitbench::golden
