// The shared forward pass allocates nothing in its hot path once its buffers fit the batch: only
// the logits it returns. Counted by replacing the global allocation functions, which is why this
// is an executable of its own (backend_allocation_tests): the replacement applies program-wide.
//
// The kernels are blis's linear and attention (BLIS's own buffers come from its pool, by malloc,
// and tasks reach the ThreadPool as std::ref) with a plain LayerNorm written here, so that what
// is counted is the forward pass itself; each kernel family answers for its own allocations.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <string>

#include "core/config.h"
#include "core/weights.h"
#include "optimized/backend.h"
#include "optimized/forward.h"
#include "optimized/kernel_set.h"
#include "tests/small_config.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<size_t> g_allocations{0};

void* allocate(std::size_t n, std::size_t alignment) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (n == 0) n = 1;
  void* p = alignment <= alignof(std::max_align_t)
                ? std::malloc(n)
                : std::aligned_alloc(alignment, (n + alignment - 1) / alignment * alignment);
  if (!p) throw std::bad_alloc();
  return p;
}

// Not inlined: where GCC inlines free() into a `delete` of memory from `new`, it warns of a
// mismatched pair (-Wmismatched-new-delete), not seeing that the `new` here is malloc.
[[gnu::noinline]] void deallocate(void* p) noexcept { std::free(p); }
}  // namespace

void* operator new(std::size_t n) { return allocate(n, 0); }
void* operator new[](std::size_t n) { return allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate(n, std::size_t(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate(n, std::size_t(a)); }
void operator delete(void* p) noexcept { deallocate(p); }
void operator delete[](void* p) noexcept { deallocate(p); }
void operator delete(void* p, std::size_t) noexcept { deallocate(p); }
void operator delete[](void* p, std::size_t) noexcept { deallocate(p); }
void operator delete(void* p, std::align_val_t) noexcept { deallocate(p); }
void operator delete[](void* p, std::align_val_t) noexcept { deallocate(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { deallocate(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { deallocate(p); }

namespace vitbench::optimized {
namespace {

// 3 heads, or 6: then qkv and attention run fused per head on 2 threads (fuses_qkv_attention).
core::Config small_config(size_t heads) {
  return testing::shaped_config(
      "small", {.hidden = 72, .heads = heads, .mlp = 144, .image = 32, .labels = 7});
}

size_t allocations_during_forward(PreparedModel& model, const core::Tensor& images) {
  g_allocations = 0;
  g_counting = true;
  const core::Tensor logits = model.forward(images, nullptr);
  g_counting = false;
  return g_allocations.load();
}

// Plain two-pass LayerNorm on the calling thread: allocates nothing.
void plain_layer_norm(const float* x, size_t rows, size_t dim, size_t ldx, const float* gamma,
                      const float* beta, float eps, float* y, size_t ldy, ThreadPool&) {
  for (size_t r = 0; r < rows; ++r) {
    const float* in = x + r * ldx;
    double mean = 0, var = 0;
    for (size_t i = 0; i < dim; ++i) mean += in[i];
    mean /= static_cast<double>(dim);
    for (size_t i = 0; i < dim; ++i) var += (in[i] - mean) * (in[i] - mean);
    const double inv = 1.0 / std::sqrt(var / static_cast<double>(dim) + eps);
    for (size_t i = 0; i < dim; ++i) {
      y[r * ldy + i] = static_cast<float>((in[i] - mean) * inv * gamma[i] + beta[i]);
    }
  }
}

TEST(Allocations, ForwardAllocatesOnlyTheReturnedLogits) {
  KernelSet kernels = kernel_set("blis");
  kernels.layer_norm.run = plain_layer_norm;
  for (const size_t heads : {3, 6}) {
    for (const core::Pooling pooling : {core::Pooling::ClassToken, core::Pooling::Mean}) {
      core::Config c = small_config(heads);
      c.pooling = pooling;
      SCOPED_TRACE(std::to_string(heads) + " heads");
      EXPECT_EQ(fuses_qkv_attention(c, 2), heads == 6);
      const core::Model model{c, core::generate_weights(c, 1)};
      const core::Tensor three = core::generate_images(c, 3, 2);
      const core::Tensor one = core::generate_images(c, 1, 3);
      auto prepared = prepare_model(model, kernels, 2);
      prepared->forward(three, nullptr);  // sizes the buffers for 3 images
      // The logits tensor: its shape vector and its data.
      constexpr size_t kLogits = 2;
      EXPECT_EQ(allocations_during_forward(*prepared, three), kLogits);
      // A smaller batch reuses the larger buffers.
      EXPECT_EQ(allocations_during_forward(*prepared, one), kLogits);
    }
  }
}

}  // namespace
}  // namespace vitbench::optimized
