#include "imaging/attention.h"

#include <cmath>

#include "core/error.h"

namespace vitbench::imaging {
namespace {

using core::fail;
using core::TensorD;

void check_probs(const TensorD& probs, size_t image) {
  if (probs.rank() != 4 || probs.dim(2) != probs.dim(3) || probs.dim(1) == 0) {
    fail("attention probabilities", "expected [N, H, T, T], got " + core::shape_to_string(probs.shape()));
  }
  if (image >= probs.dim(0)) {
    fail("attention probabilities", "image " + std::to_string(image) + " is outside the batch of " +
                                        std::to_string(probs.dim(0)));
  }
}

// Head-averaged [T, T] attention of one image.
TensorD head_mean(const TensorD& probs, size_t image) {
  const size_t H = probs.dim(1), T = probs.dim(2);
  TensorD mean({T, T}, 0.0);
  for (size_t h = 0; h < H; ++h) {
    const double* p = probs.data() + (image * H + h) * T * T;
    for (size_t i = 0; i < T * T; ++i) mean[i] += p[i];
  }
  for (double& v : mean.span()) v /= static_cast<double>(H);
  return mean;
}

TensorD patch_row_as_grid(const double* row, size_t grid, size_t prefix) {
  TensorD map({grid, grid});
  for (size_t i = 0; i < grid * grid; ++i) map[i] = row[prefix + i];
  return map;
}

}  // namespace

size_t attention_grid_size(const TensorD& probs, size_t prefix) {
  check_probs(probs, 0);
  const size_t patches = probs.dim(2) > prefix ? probs.dim(2) - prefix : 0;
  const auto grid = static_cast<size_t>(std::llround(std::sqrt(static_cast<double>(patches))));
  if (prefix == 0 || patches == 0 || grid * grid != patches) {
    fail("attention probabilities",
         std::to_string(probs.dim(2)) + " tokens are not " + std::to_string(prefix) +
             " prefix token(s) (the class token first) plus a square grid of patches");
  }
  return grid;
}

TensorD class_token_attention(const TensorD& probs, size_t image, std::optional<size_t> head,
                              size_t prefix) {
  check_probs(probs, image);
  const size_t grid = attention_grid_size(probs, prefix);
  const size_t H = probs.dim(1), T = probs.dim(2);
  if (head) {
    if (*head >= H) {
      fail("--head", "head " + std::to_string(*head) + " does not exist (the model has " +
                         std::to_string(H) + " heads: 0 to " + std::to_string(H - 1) + ")");
    }
    return patch_row_as_grid(probs.data() + (image * H + *head) * T * T, grid, prefix);
  }
  return patch_row_as_grid(head_mean(probs, image).data(), grid, prefix);
}

TensorD rollout_matrix(const std::vector<const TensorD*>& layers, size_t image) {
  if (layers.empty()) fail("attention rollout", "no layers given");
  const size_t T = layers[0]->dim(2);
  TensorD rollout;
  for (size_t l = 0; l < layers.size(); ++l) {
    check_probs(*layers[l], image);
    if (layers[l]->dim(2) != T) fail("attention rollout", "layers have different token counts");
    TensorD a = head_mean(*layers[l], image);
    for (size_t i = 0; i < T; ++i) {
      a[i * T + i] += 1.0;
      double sum = 0;
      for (size_t j = 0; j < T; ++j) sum += a[i * T + j];
      for (size_t j = 0; j < T; ++j) a[i * T + j] /= sum;
    }
    if (l == 0) {
      rollout = std::move(a);
      continue;
    }
    TensorD next({T, T}, 0.0);  // next = a · rollout: the later layer applied after the earlier
    for (size_t i = 0; i < T; ++i) {
      for (size_t k = 0; k < T; ++k) {
        const double aik = a[i * T + k];
        for (size_t j = 0; j < T; ++j) next[i * T + j] += aik * rollout[k * T + j];
      }
    }
    rollout = std::move(next);
  }
  return rollout;
}

TensorD attention_rollout(const std::vector<const TensorD*>& layers, size_t image, size_t prefix) {
  if (layers.empty()) fail("attention rollout", "no layers given");
  const size_t grid = attention_grid_size(*layers[0], prefix);
  const TensorD r = rollout_matrix(layers, image);
  return patch_row_as_grid(r.data(), grid, prefix);
}

}  // namespace vitbench::imaging
