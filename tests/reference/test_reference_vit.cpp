// The reference forward pass: the shapes of its taps, agreement with a second computation written
// differently on purpose (below), determinism across thread counts and batch compositions, the
// configuration switches, and the permutation symmetry of attention.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <numbers>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/metrics.h"
#include "core/taps.h"
#include "core/weights.h"
#include "reference/vit.h"
#include "tests/small_config.h"

namespace vitbench::reference {
namespace {

using core::Config;
using core::Tensor;
using core::TensorD;

constexpr uint64_t kWeightSeed = 7;
constexpr uint64_t kImageSeed = 11;

// Small and deliberately odd: 3 heads of size 4, an MLP width that is no multiple of anything
// the model uses, a 2x2 grid of 4x4 patches (T = 5 tokens), 5 labels.
Config small_config(size_t layers = 2) {
  return testing::shaped_config("small", {.layers = layers});
}

core::Model make_model(const Config& c, uint64_t seed = kWeightSeed) {
  return {c, core::generate_weights(c, seed)};
}

core::Taps all_taps(size_t layers) {
  core::Taps taps = core::Taps::standard();
  for (size_t i = 0; i < layers; ++i) taps.request(core::tap::attn_probs(i));
  return taps;
}

void expect_bit_identical(const TensorD& a, const TensorD& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)), 0) << what;
}

double max_rel_difference(const TensorD& actual, const TensorD& expected) {
  return core::compare(actual.span(), expected.span()).max_rel_error;
}

// ---- A second forward pass, written differently on purpose -------------------------------------
// Vectors of rows instead of flat tensors; patches unfolded by scattering pixels; LayerNorm with a
// one-pass variance; attention through per-head Wq, Wk, Wv slices taken straight from the stacked
// weight, a softmax without max subtraction, and the output projection split per head; GELU
// through erfc or the logistic function; dot products summed backwards. What it shares with the
// reference is only the model's definition.

using Matrix = std::vector<std::vector<double>>;

double dot_backwards(const double* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = n; i-- > 0;) s += a[i] * b[i];
  return s;
}

Matrix layer_norm_one_pass(const Matrix& x, const Tensor& gamma, const Tensor& beta, double eps) {
  Matrix y = x;
  for (auto& row : y) {
    double sum = 0, sum_sq = 0;
    for (double v : row) {
      sum += v;
      sum_sq += v * v;
    }
    const double n = static_cast<double>(row.size());
    const double mean = sum / n;
    const double std_dev = std::sqrt(sum_sq / n - mean * mean + eps);
    for (size_t i = 0; i < row.size(); ++i) row[i] = (row[i] - mean) / std_dev * gamma[i] + beta[i];
  }
  return y;
}

double gelu_other_form(double x, core::GeluKind kind) {
  if (kind == core::GeluKind::Erf) return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
  // ½(1 + tanh z) is the logistic function of 2z.
  const double z = std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x);
  return x / (1.0 + std::exp(-2.0 * z));
}

struct Independent {
  std::map<std::string, TensorD> taps;  // the same names and shapes as the reference's taps
};

TensorD stack(const std::vector<Matrix>& per_image) {
  TensorD t({per_image.size(), per_image[0].size(), per_image[0][0].size()});
  size_t k = 0;
  for (const Matrix& m : per_image) {
    for (const auto& row : m) {
      for (double v : row) t[k++] = v;
    }
  }
  return t;
}

Independent independent_forward(const core::Model& model, const Tensor& images) {
  const Config& c = model.config;
  const core::Weights& w = model.weights;
  const size_t N = images.dim(0), C = c.num_channels, S = c.image_size, P = c.patch_size;
  const size_t G = c.grid_size(), T = c.num_tokens(), D = c.hidden_size, H = c.num_heads;
  const size_t d = c.head_dim(), M = c.intermediate_size, L = c.num_labels;
  const size_t K = c.patch_dim();

  std::map<std::string, std::vector<Matrix>> per_image;
  std::vector<std::vector<double>> logits(N);

  for (size_t n = 0; n < N; ++n) {
    // Unfold: scatter every pixel to its patch and its (channel, row, column) slot in that patch.
    Matrix patches(G * G, std::vector<double>(K));
    for (size_t ch = 0; ch < C; ++ch) {
      for (size_t y = 0; y < S; ++y) {
        for (size_t x = 0; x < S; ++x) {
          const double pixel = images[((n * C + ch) * S + y) * S + x];
          patches[(y / P) * G + x / P][(ch * P + y % P) * P + x % P] = pixel;
        }
      }
    }
    Matrix tokens(T, std::vector<double>(D));
    for (size_t dd = 0; dd < D; ++dd) tokens[0][dd] = w.cls_token[dd] + w.pos_embed[dd];
    for (size_t p = 0; p < G * G; ++p) {
      for (size_t dd = 0; dd < D; ++dd) {
        tokens[1 + p][dd] = dot_backwards(patches[p].data(), w.patch_weight.data() + dd * K, K) +
                            w.patch_bias[dd] + w.pos_embed[(1 + p) * D + dd];
      }
    }
    per_image["embed"].push_back(tokens);

    for (size_t layer = 0; layer < c.num_layers; ++layer) {
      const core::BlockWeights& b = w.blocks[layer];
      const Matrix h = layer_norm_one_pass(tokens, b.norm1_weight, b.norm1_bias, c.layer_norm_eps);
      Matrix attn_out(T, std::vector<double>(D));
      for (size_t t = 0; t < T; ++t) {
        for (size_t o = 0; o < D; ++o) attn_out[t][o] = w.blocks[layer].proj_bias[o];
      }
      std::vector<double> probs(H * T * T);
      for (size_t head = 0; head < H; ++head) {
        // This head's rows of the stacked [3D, D] weight: q at h·d, k at D + h·d, v at 2D + h·d.
        auto project = [&](size_t first_row) {
          Matrix out(T, std::vector<double>(d));
          for (size_t t = 0; t < T; ++t) {
            for (size_t j = 0; j < d; ++j) {
              const size_t row = first_row + j;
              out[t][j] = dot_backwards(h[t].data(), b.qkv_weight.data() + row * D, D) +
                          b.qkv_bias[row];
            }
          }
          return out;
        };
        const Matrix q = project(head * d), k = project(D + head * d), v = project(2 * D + head * d);
        for (size_t t = 0; t < T; ++t) {
          std::vector<double> e(T);
          double total = 0;
          for (size_t s = 0; s < T; ++s) {
            double score = 0;
            for (size_t j = 0; j < d; ++j) score += q[t][j] * k[s][j];
            // No max subtraction: the scores here are O(1), far from exp's overflow.
            e[s] = std::exp(score / std::sqrt(static_cast<double>(d)));
            total += e[s];
          }
          std::vector<double> head_out(d, 0.0);
          for (size_t s = 0; s < T; ++s) {
            probs[(head * T + t) * T + s] = e[s] / total;
            for (size_t j = 0; j < d; ++j) head_out[j] += e[s] * v[s][j];
          }
          for (size_t j = 0; j < d; ++j) head_out[j] /= total;
          // The output projection, restricted to this head's d input columns.
          for (size_t o = 0; o < D; ++o) {
            for (size_t j = 0; j < d; ++j) {
              attn_out[t][o] += head_out[j] * b.proj_weight[o * D + head * d + j];
            }
          }
        }
      }
      per_image[core::tap::attn_out(layer)].push_back(attn_out);
      per_image[core::tap::attn_probs(layer)].push_back({probs});

      for (size_t t = 0; t < T; ++t) {
        for (size_t o = 0; o < D; ++o) tokens[t][o] += attn_out[t][o];
      }
      const Matrix h2 = layer_norm_one_pass(tokens, b.norm2_weight, b.norm2_bias, c.layer_norm_eps);
      for (size_t t = 0; t < T; ++t) {
        std::vector<double> hidden(M);
        for (size_t m = 0; m < M; ++m) {
          hidden[m] = gelu_other_form(
              dot_backwards(h2[t].data(), b.fc1_weight.data() + m * D, D) + b.fc1_bias[m], c.gelu);
        }
        for (size_t o = 0; o < D; ++o) {
          tokens[t][o] += dot_backwards(hidden.data(), b.fc2_weight.data() + o * M, M) + b.fc2_bias[o];
        }
      }
      per_image[core::tap::block_out(layer)].push_back(tokens);
    }

    const Matrix normed = layer_norm_one_pass(tokens, w.norm_weight, w.norm_bias, c.layer_norm_eps);
    per_image["final_norm"].push_back(normed);
    std::vector<double> pooled(D, 0.0);
    if (c.pooling == core::Pooling::ClassToken) {
      pooled = normed[0];
    } else {
      for (size_t dd = 0; dd < D; ++dd) {
        for (size_t t = T - 1; t >= 1; --t) pooled[dd] += normed[t][dd] / static_cast<double>(T - 1);
      }
    }
    for (size_t l = 0; l < L; ++l) {
      logits[n].push_back(dot_backwards(pooled.data(), w.head_weight.data() + l * D, D) +
                          w.head_bias[l]);
    }
  }

  Independent result;
  for (const auto& [name, matrices] : per_image) result.taps[name] = stack(matrices);
  for (size_t layer = 0; layer < c.num_layers; ++layer) {
    result.taps[core::tap::attn_probs(layer)].reshape({N, H, T, T});
  }
  result.taps["logits"] = stack({logits});
  result.taps["logits"].reshape({N, L});
  return result;
}

// ---- Tests --------------------------------------------------------------------------------------

TEST(ReferenceForward, EveryTapHasItsShape) {
  const Config c = small_config();
  const core::Model model = make_model(c);
  const Tensor images = core::generate_images(c, 2, kImageSeed);
  core::Taps taps = all_taps(c.num_layers);
  const TensorD logits = forward(model, images, &taps);

  const size_t N = 2, T = 5, D = 12, H = 3, L = 5;
  ASSERT_EQ(logits.shape(), (core::Shape{N, L}));
  for (const std::string& name : core::standard_tap_names(c.num_layers)) {
    ASSERT_TRUE(taps.has(name)) << name;
    const core::Shape expected = name == "logits" ? core::Shape{N, L} : core::Shape{N, T, D};
    EXPECT_EQ(taps.get(name).shape(), expected) << name;
  }
  for (size_t i = 0; i < c.num_layers; ++i) {
    EXPECT_EQ(taps.get(core::tap::attn_probs(i)).shape(), (core::Shape{N, H, T, T}));
  }
  EXPECT_EQ(taps.values().size(), core::standard_tap_names(c.num_layers).size() + c.num_layers);
  expect_bit_identical(taps.get("logits"), logits, "the logits tap is the returned logits");
}

TEST(ReferenceForward, AttentionProbabilityRowsSumToOne) {
  const Config c = small_config();
  core::Taps taps = all_taps(c.num_layers);
  forward(make_model(c), core::generate_images(c, 2, kImageSeed), &taps);
  for (size_t i = 0; i < c.num_layers; ++i) {
    const TensorD& p = taps.get(core::tap::attn_probs(i));
    const size_t T = p.dim(3);
    for (size_t row = 0; row < p.size() / T; ++row) {
      double sum = 0;
      for (size_t s = 0; s < T; ++s) {
        EXPECT_GT(p[row * T + s], 0.0);
        sum += p[row * T + s];
      }
      EXPECT_NEAR(sum, 1.0, 1e-15) << "block " << i << ", row " << row;  // T + 1 = 6 roundings
    }
  }
}

TEST(ReferenceForward, RecordsOnlyWhatIsAsked) {
  const Config c = small_config();
  const core::Model model = make_model(c);
  const Tensor images = core::generate_images(c, 1, kImageSeed);

  core::Taps standard = core::Taps::standard();
  forward(model, images, &standard);
  EXPECT_FALSE(standard.has(core::tap::attn_probs(0)));  // large, so only by name
  EXPECT_EQ(standard.values().size(), core::standard_tap_names(c.num_layers).size());

  core::Taps one;
  one.request(core::tap::attn_probs(1));
  forward(model, images, &one);
  EXPECT_EQ(one.values().size(), 1u);
  EXPECT_TRUE(one.has(core::tap::attn_probs(1)));
}

TEST(ReferenceForward, TapsDoNotChangeTheResult) {
  const Config c = small_config();
  const core::Model model = make_model(c);
  const Tensor images = core::generate_images(c, 2, kImageSeed);
  core::Taps taps = all_taps(c.num_layers);
  expect_bit_identical(forward(model, images), forward(model, images, &taps), "logits");
}

TEST(ReferenceForward, RejectsImagesOfTheWrongShape) {
  const Config c = small_config();
  const core::Model model = make_model(c);
  EXPECT_THROW(forward(model, Tensor({1, 3, 12, 12}, 0.0f)), core::Error);
  EXPECT_THROW(forward(model, Tensor({1, 1, 8, 8}, 0.0f)), core::Error);
}

TEST(ReferenceForward, RejectsWeightsThatDoNotFitTheConfig) {
  const Config c = small_config();
  core::Model missing_block = make_model(c);
  missing_block.weights.blocks.pop_back();
  EXPECT_THROW(forward(missing_block, core::generate_images(c, 1, kImageSeed)), core::Error);

  Config wider = c;
  wider.intermediate_size = 24;  // the weights were drawn for 20
  const core::Model mismatched{wider, core::generate_weights(c, kWeightSeed)};
  EXPECT_THROW(forward(mismatched, core::generate_images(c, 1, kImageSeed)), core::Error);
}

struct Variant {
  std::string name;
  size_t layers;
  core::Pooling pooling;
  core::GeluKind gelu;
  core::PositionEmbedding position;
  bool qkv_bias;
};

// Names the variant in gtest's messages instead of dumping its bytes.
void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

class ReferenceAgainstIndependent : public ::testing::TestWithParam<Variant> {};

TEST_P(ReferenceAgainstIndependent, EveryTapAgrees) {
  const Variant& v = GetParam();
  Config c = small_config(v.layers);
  c.pooling = v.pooling;
  c.gelu = v.gelu;
  c.position_embedding = v.position;
  c.qkv_bias = v.qkv_bias;
  const core::Model model = make_model(c);
  const Tensor images = core::generate_images(c, 2, kImageSeed);

  core::Taps taps = all_taps(c.num_layers);
  forward(model, images, &taps, 2);
  const Independent expected = independent_forward(model, images);

  ASSERT_EQ(taps.values().size(), expected.taps.size());
  for (const auto& [name, want] : expected.taps) {
    ASSERT_TRUE(taps.has(name)) << name;
    const TensorD& got = taps.get(name);
    ASSERT_EQ(got.shape(), want.shape()) << name;
    // Both sides are float64 throughout: dot products of at most 48 terms, exp/erf/tanh within
    // an ulp or two, two layers deep, on O(1) values, so they agree to ~1e-15 of the tensor's
    // largest magnitude. 1e-12 is a 1000x margin; a real mistake (a missing 0.02 bias, a
    // swapped head, the wrong GELU or scale) shows up at 1e-4 or more.
    EXPECT_LT(max_rel_difference(got, want), 1e-12)
        << name << ": " << core::summarize(core::compare(got.span(), want.span()));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Configs, ReferenceAgainstIndependent,
    ::testing::Values(Variant{"default_1_layer", 1, core::Pooling::ClassToken, core::GeluKind::Erf,
                            core::PositionEmbedding::Learned, true},
                    Variant{"mean_tanh_sincos_nobias", 1, core::Pooling::Mean,
                            core::GeluKind::Tanh, core::PositionEmbedding::Sincos, false},
                    Variant{"default_2_layers", 2, core::Pooling::ClassToken,
                            core::GeluKind::Erf, core::PositionEmbedding::Learned, true}),
    [](const ::testing::TestParamInfo<Variant>& info) { return info.param.name; });

TEST(ReferenceForward, ThreadCountDoesNotChangeAnyBit) {
  const Config c = small_config();
  const core::Model model = make_model(c);
  const Tensor images = core::generate_images(c, 3, kImageSeed);
  core::Taps one = all_taps(c.num_layers);
  forward(model, images, &one, 1);
  for (size_t threads : {2, 3, 8}) {
    core::Taps many = all_taps(c.num_layers);
    forward(model, images, &many, threads);
    ASSERT_EQ(many.values().size(), one.values().size());
    for (const auto& [name, value] : one.values()) {
      expect_bit_identical(many.get(name), value, name + " with " + std::to_string(threads) +
                                                      " threads");
    }
  }
}

TEST(ReferenceForward, EachImageIsIndependentOfItsBatch) {
  const Config c = small_config();
  const core::Model model = make_model(c);
  const Tensor batch = core::generate_images(c, 3, kImageSeed);
  const TensorD together = forward(model, batch, nullptr, 2);
  const size_t plane = batch.size() / 3, L = c.num_labels;
  for (size_t k = 0; k < 3; ++k) {
    Tensor alone({1, c.num_channels, c.image_size, c.image_size});
    std::memcpy(alone.data(), batch.data() + k * plane, plane * sizeof(float));
    const TensorD logits = forward(model, alone, nullptr, 2);
    // Every row is computed by the same loops whatever else is in the batch: exactly equal.
    for (size_t l = 0; l < L; ++l) EXPECT_EQ(logits[l], together[k * L + l]) << "image " << k;
  }
}

TEST(ReferenceForward, ConfigSwitchesAreHonoured) {
  const Config base = small_config();
  const Tensor images = core::generate_images(base, 2, kImageSeed);
  const TensorD reference_logits = forward(make_model(base), images);

  std::vector<std::pair<std::string, Config>> variants;
  Config mean = base;
  mean.pooling = core::Pooling::Mean;
  variants.emplace_back("mean pooling", mean);
  Config sincos = base;
  sincos.position_embedding = core::PositionEmbedding::Sincos;
  variants.emplace_back("sin-cos position embedding", sincos);
  Config tanh = base;
  tanh.gelu = core::GeluKind::Tanh;
  variants.emplace_back("tanh GELU", tanh);

  for (const auto& [what, config] : variants) {
    const TensorD logits = forward(make_model(config), images);
    ASSERT_EQ(logits.shape(), reference_logits.shape()) << what;
    for (double v : logits.span()) ASSERT_TRUE(std::isfinite(v)) << what;
    // An ignored switch would give bit-identical logits. The subtlest honoured one, tanh GELU,
    // moves activations by up to 4.7e-4, which reaches the logits at ~1e-5 of their scale;
    // 1e-7 is well under that and far above float64 noise (which is 0 here: same computation).
    EXPECT_GT(max_rel_difference(logits, reference_logits), 1e-7) << what;
  }
}

// Moves the patch at grid cell perm[j] of each image to grid cell j.
Tensor permute_patches(const Config& c, const Tensor& images, const std::vector<size_t>& perm) {
  const size_t N = images.dim(0), C = c.num_channels, S = c.image_size, P = c.patch_size;
  const size_t G = c.grid_size();
  Tensor out(images.shape());
  for (size_t n = 0; n < N; ++n) {
    for (size_t ch = 0; ch < C; ++ch) {
      for (size_t j = 0; j < G * G; ++j) {
        const size_t from = perm[j];
        for (size_t py = 0; py < P; ++py) {
          for (size_t px = 0; px < P; ++px) {
            const size_t dst_y = j / G * P + py, dst_x = j % G * P + px;
            const size_t src_y = from / G * P + py, src_x = from % G * P + px;
            out[((n * C + ch) * S + dst_y) * S + dst_x] =
                images[((n * C + ch) * S + src_y) * S + src_x];
          }
        }
      }
    }
  }
  return out;
}

TEST(ReferenceForward, WithoutPositionEmbeddingPatchOrderIsIrrelevant) {
  // Everything but attention acts token by token, and attention is a weighted sum over all
  // tokens, so without position embeddings permuting the patches permutes the patch tokens and
  // leaves the class token and the patch-token mean alone.
  Config c = small_config();
  c.image_size = 12;  // a 3x3 grid: 9 patches to shuffle
  c.pooling = core::Pooling::Mean;
  core::Model model = make_model(c);
  for (float& v : model.weights.pos_embed.span()) v = 0.0f;
  const std::vector<size_t> perm = {4, 7, 0, 8, 2, 5, 1, 3, 6};
  const Tensor images = core::generate_images(c, 2, kImageSeed);
  const Tensor shuffled = permute_patches(c, images, perm);

  core::Taps original = core::Taps::standard(), permuted = core::Taps::standard();
  const TensorD logits = forward(model, images, &original);
  const TensorD logits_shuffled = forward(model, shuffled, &permuted);
  // Only summation order changes (over tokens in attention and in the mean): ~1e-15 of the
  // logits' scale, so 1e-12 is generous and a broken symmetry (>= 1e-3 below) is not.
  EXPECT_LT(max_rel_difference(logits_shuffled, logits), 1e-12);

  const TensorD& a = original.get("final_norm");
  const TensorD& b = permuted.get("final_norm");
  const size_t T = c.num_tokens(), D = c.hidden_size;
  double worst = 0, scale = 0;
  for (size_t n = 0; n < 2; ++n) {
    for (size_t dd = 0; dd < D; ++dd) {
      worst = std::max(worst, std::abs(b[n * T * D + dd] - a[n * T * D + dd]));  // class token
      for (size_t j = 0; j < perm.size(); ++j) {
        const double want = a[(n * T + 1 + perm[j]) * D + dd];
        worst = std::max(worst, std::abs(b[(n * T + 1 + j) * D + dd] - want));
        scale = std::max(scale, std::abs(want));
      }
    }
  }
  EXPECT_LT(worst, 1e-12 * scale) << "tokens move with their patches";  // as for the logits

  // The control: with the position embedding back, order matters, so the check above can fail.
  const core::Model positioned = make_model(c);
  const double moved = max_rel_difference(forward(positioned, shuffled), forward(positioned, images));
  EXPECT_GT(moved, 1e-3);
}

}  // namespace
}  // namespace vitbench::reference
