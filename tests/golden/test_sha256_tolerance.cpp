// SHA-256 against the FIPS 180-2 test vectors, and the tolerance policy's stated properties.
#include <gtest/gtest.h>

#include <string>

#include "core/config.h"
#include "core/error.h"
#include "core/taps.h"
#include "golden/sha256.h"
#include "golden/tolerance.h"
#include "golden_test_util.h"

namespace vitbench::golden {
namespace {

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PaddingBoundariesAndChunkingAgree) {
  // Lengths around the 55/56/64-byte padding edges, fed whole and in uneven pieces.
  for (size_t n : {55u, 56u, 57u, 63u, 64u, 65u, 119u, 120u, 128u, 1000u}) {
    std::string text(n, '\0');
    for (size_t i = 0; i < n; ++i) text[i] = static_cast<char>(i * 7 + 3);
    Sha256 pieces;
    for (size_t at = 0; at < n;) {
      const size_t take = std::min<size_t>(n - at, 1 + at % 13);
      pieces.update(text.data() + at, take);
      at += take;
    }
    EXPECT_EQ(pieces.hex_digest(), sha256_hex(text)) << n;
  }
  // Two distinct messages of one length must not collide (guards a digest that ignores data).
  EXPECT_NE(sha256_hex(std::string(64, 'a')), sha256_hex(std::string(63, 'a') + "b"));
}

TEST(Sha256, FilesHashAsTheirBytes) {
  testing::TempDir dir;
  const std::string text(200000, 'x');
  testing::write_bytes(dir.file("f"), text);
  EXPECT_EQ(sha256_file_hex(dir.file("f")), sha256_hex(text));
  EXPECT_THROW(sha256_file_hex(dir.file("missing")), core::Error);
}

core::Config vit_b() { return core::preset_config("vit-b16"); }

TEST(Tolerance, ReferenceMeetsTheIssuesBoundOnLogits) {
  // The issue's requirement: the reference passes within 1e-5 relative on the logits. The policy
  // is far tighter, so this holds for any case of any size we would check in.
  for (const char* preset : {"vit-ti16", "vit-b16", "vit-l16@384"}) {
    const core::Config c = core::preset_config(preset);
    EXPECT_LE(tolerance_for(c, "logits", kReferenceClass, core::NpyDtype::Float64).max_rel, 1e-5);
  }
}

TEST(Tolerance, GrowsWithDepthAndReductionAndClass) {
  const core::Config c = vit_b();
  const auto tol = [&](const std::string& tap, const char* cls) {
    return tolerance_for(c, tap, cls, core::NpyDtype::Float64).max_rel;
  };
  EXPECT_LT(tol("embed", kFloat32Class), tol("block.0.attn_out", kFloat32Class));
  EXPECT_LT(tol("block.0.out", kFloat32Class), tol("block.11.out", kFloat32Class));
  EXPECT_LT(tol("final_norm", kFloat32Class), tol("logits", kFloat32Class));
  EXPECT_LT(tol("logits", kReferenceClass), tol("logits", kFloat32Class));
  // float32 at ViT-B depth: 32·2^-24·√3072·√27 ≈ 5.5e-4; tighter would fail honest backends,
  // looser would pass a wrong GELU form on small models.
  EXPECT_NEAR(tol("logits", kFloat32Class), 32 * std::ldexp(1.0, -24) * std::sqrt(3072.0 * 27), 1e-12);
  EXPECT_EQ(reduction_length(c, "embed"), 768u);
  EXPECT_EQ(reduction_length(c, "block.3.out"), 3072u);
  EXPECT_EQ(rounding_stages(c, "block.0.attn_out"), 2u);
  EXPECT_EQ(rounding_stages(c, "logits"), 27u);
}

TEST(Tolerance, Float32GoldensAddTheirOwnRounding) {
  const core::Config c = vit_b();
  const double f64 = tolerance_for(c, "embed", kReferenceClass, core::NpyDtype::Float64).max_rel;
  const double f32 = tolerance_for(c, "embed", kReferenceClass, core::NpyDtype::Float32).max_rel;
  EXPECT_DOUBLE_EQ(f32 - f64, std::ldexp(1.0, -24));
  const Tolerance t = tolerance_for(c, "embed", kFloat32Class, core::NpyDtype::Float64);
  EXPECT_DOUBLE_EQ(t.nmse, t.max_rel * t.max_rel);
}

TEST(Tolerance, RefusesUnknownClassesAndTaps) {
  const core::Config c = vit_b();
  EXPECT_THROW(tolerance_for(c, "logits", "bf16", core::NpyDtype::Float64), core::Error);
  EXPECT_THROW(tolerance_for(c, "block.12.out", kFloat32Class, core::NpyDtype::Float64),
               core::Error);
  EXPECT_THROW(tolerance_for(c, "block.0.attn_probs", kFloat32Class, core::NpyDtype::Float64),
               core::Error);
}

}  // namespace
}  // namespace vitbench::golden
