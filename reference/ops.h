// The reference's operations: plain loops, float64 accumulation, no tuning. Each is small
// enough to check by hand, and each is the "reference twin" an optimized kernel is tested
// against. Matrices are row-major; weights are float32 as stored, activations float64.
#pragma once

#include <cstddef>

#include "core/config.h"

namespace vitbench::reference {

// y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * gamma + beta, population variance. y may be x.
void layer_norm(const double* x, size_t rows, size_t dim, const float* gamma, const float* beta,
                double eps, double* y);

// y[r, o] = Σ_i x[r, i] · w[o, i] + bias[o]   (w is PyTorch's [out, in]; bias may be null)
void linear(const double* x, size_t rows, size_t in, const float* w, const float* bias, size_t out,
            double* y);

// GELU, exact: x · Φ(x) = x/2 · (1 + erf(x/√2)).
double gelu_erf(double x);
// GELU, tanh form: x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³))).
double gelu_tanh(double x);
// Quick GELU (OpenAI's CLIP): x · σ(1.702 x) = x / (1 + exp(−1.702 x)).
double gelu_quick(double x);
// The form `kind` names.
double gelu(core::GeluKind kind, double x);

// In place, max-subtracted.
void softmax(double* row, size_t n);

// Multi-head self-attention over one image's tokens, given the stacked q|k|v activations
// qkv [T, 3D] (q in columns [0, D), k in [D, 2D), v in [2D, 3D); head h uses columns
// [h·d, (h+1)·d) of each). out [T, D] = concat_h softmax(Q_h K_hᵀ / √d) V_h.
// When `probs` is not null it receives the probabilities, [H, T, T].
void attention(const double* qkv, size_t tokens, size_t heads, size_t head_dim, double* out,
               double* probs = nullptr);

}  // namespace vitbench::reference
