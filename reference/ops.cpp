#include "reference/ops.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace vitbench::reference {

void layer_norm(const double* x, size_t rows, size_t dim, const float* gamma, const float* beta,
                double eps, double* y) {
  for (size_t r = 0; r < rows; ++r) {
    const double* xr = x + r * dim;
    double* yr = y + r * dim;
    double mean = 0;
    for (size_t i = 0; i < dim; ++i) mean += xr[i];
    mean /= static_cast<double>(dim);
    // Two passes (mean first, then squared deviations) rather than E[x²] - E[x]²: a large common
    // offset would otherwise cancel catastrophically.
    double var = 0;
    for (size_t i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= static_cast<double>(dim);
    const double inv_std = 1.0 / std::sqrt(var + eps);
    for (size_t i = 0; i < dim; ++i) {
      yr[i] = (xr[i] - mean) * inv_std * static_cast<double>(gamma[i]) +
              static_cast<double>(beta[i]);
    }
  }
}

void linear(const double* x, size_t rows, size_t in, const float* w, const float* bias, size_t out,
            double* y) {
  for (size_t r = 0; r < rows; ++r) {
    const double* xr = x + r * in;
    for (size_t o = 0; o < out; ++o) {
      // Row o of PyTorch's [out, in] weight is contiguous, so the dot product walks both operands
      // in memory order.
      const float* wo = w + o * in;
      double sum = 0;
      for (size_t i = 0; i < in; ++i) sum += xr[i] * static_cast<double>(wo[i]);
      y[r * out + o] = bias ? sum + static_cast<double>(bias[o]) : sum;
    }
  }
}

double gelu_erf(double x) { return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2)); }

double gelu_tanh(double x) {
  const double k = std::sqrt(2.0 / std::numbers::pi);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}

double gelu_quick(double x) { return x / (1.0 + std::exp(-1.702 * x)); }

double gelu(core::GeluKind kind, double x) {
  switch (kind) {
    case core::GeluKind::Erf:
      return gelu_erf(x);
    case core::GeluKind::Tanh:
      return gelu_tanh(x);
    case core::GeluKind::Quick:
      return gelu_quick(x);
  }
  return gelu_erf(x);
}

void softmax(double* row, size_t n) {
  if (n == 0) return;
  // Subtracting the maximum keeps every exponent <= 0, so nothing overflows whatever the logits.
  const double max = *std::max_element(row, row + n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    row[i] = std::exp(row[i] - max);
    sum += row[i];
  }
  for (size_t i = 0; i < n; ++i) row[i] /= sum;
}

void attention(const double* qkv, size_t tokens, size_t heads, size_t head_dim, double* out,
               double* probs) {
  const size_t D = heads * head_dim;
  const size_t stride = 3 * D;  // one token's q|k|v row
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  std::vector<double> local(probs ? 0 : tokens);
  for (size_t h = 0; h < heads; ++h) {
    const size_t q_col = h * head_dim, k_col = D + h * head_dim, v_col = 2 * D + h * head_dim;
    for (size_t t = 0; t < tokens; ++t) {
      double* p = probs ? probs + (h * tokens + t) * tokens : local.data();
      const double* q = qkv + t * stride + q_col;
      for (size_t s = 0; s < tokens; ++s) {
        const double* k = qkv + s * stride + k_col;
        double dot = 0;
        for (size_t j = 0; j < head_dim; ++j) dot += q[j] * k[j];
        p[s] = dot * scale;
      }
      softmax(p, tokens);
      double* o = out + t * D + h * head_dim;
      for (size_t j = 0; j < head_dim; ++j) o[j] = 0;
      for (size_t s = 0; s < tokens; ++s) {
        const double* v = qkv + s * stride + v_col;
        for (size_t j = 0; j < head_dim; ++j) o[j] += p[s] * v[j];
      }
    }
  }
}

}  // namespace vitbench::reference
