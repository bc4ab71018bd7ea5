#include "bench/breakdown.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "bench/text_table.h"
#include "core/error.h"
#include "core/flops.h"
#include "core/weights.h"

namespace vitbench::bench {
namespace {

using optimized::ForwardOp;

}  // namespace

const std::vector<std::string>& breakdown_class_names() {
  static const std::vector<std::string> names = {
      "gemm.qkv", "gemm.proj", "gemm.fc1",    "gemm.fc2", "attention", "qkv+attention",
      "layer_norm", "gelu",    "residual", "patch_embed", "head",     "other"};
  return names;
}

Breakdown summarize_breakdown(const core::Config& c, const optimized::ForwardTimes& times,
                              size_t batch, size_t threads, const Peaks& peaks) {
  Breakdown b;
  b.batch = batch;
  b.threads = threads;
  b.forwards = times.forwards;
  b.peak_gflops = peaks.fma_for(threads);
  const auto bw = peaks.bandwidth_gbs.find(threads);
  b.bandwidth_gbs = bw == peaks.bandwidth_gbs.end() ? 0.0 : bw->second;
  const double forwards = static_cast<double>(std::max<size_t>(times.forwards, 1));
  const size_t N = batch, T = c.num_tokens(), D = c.hidden_size, M = c.intermediate_size;
  const size_t H = c.num_heads, K = c.patch_dim(), S = c.image_size, rows = N * T;
  const double layers = static_cast<double>(c.num_layers);

  auto lap = [&](ForwardOp op) { return times.seconds[static_cast<size_t>(op)] / forwards; };
  auto per_forward = [&](size_t count) {
    return static_cast<size_t>(static_cast<double>(count) / forwards + 0.5);
  };
  // Idle thread time over the thread time of `seconds` of wall time.
  auto idle_percent = [&](double idle_thread_seconds, double seconds) {
    return seconds > 0 ? 100.0 * idle_thread_seconds / (static_cast<double>(threads) * seconds)
                       : 0.0;
  };
  auto add = [&](const std::string& name, const std::string& shape, ForwardOp op, double flops,
                 double bytes) {
    const size_t i = static_cast<size_t>(op);
    BreakdownClass k;
    k.name = name;
    k.shape = shape;
    k.calls = per_forward(times.calls[i]);
    k.seconds = lap(op);
    k.flops = flops;
    k.bytes = bytes;
    k.pool_regions = per_forward(times.regions[i]);
    if (times.regions[i] > 0) {
      k.idle_percent = idle_percent(times.idle_thread_seconds[i], times.seconds[i]);
    }
    b.classes.push_back(k);
  };
  // The last block computes q, attention, the projection and the MLP for the rows pooling reads
  // only (forward.cpp: last_block_tokens; the breakdown's forwards record no tap), as
  // core::flops::optimized_blocks counts them.
  const size_t last_rows = N * c.pooled_tokens();
  const core::flops::BlockFlops blocks = core::flops::optimized_blocks(c);
  const double images = static_cast<double>(N);
  // Blocks whose qkv and attention ran fused (optimized::fuses_qkv_attention), one lap each, over
  // every token: their work leaves gemm.qkv and attention for qkv+attention.
  const double fused = static_cast<double>(per_forward(times.calls[static_cast<size_t>(
      ForwardOp::QkvAttention)]));
  const double fused_qkv = fused * images * core::flops::linear(T, 3 * D, D);
  const double fused_attention = fused * images * core::flops::attention(T, H, c.head_dim());
  add("gemm.qkv", dims({rows, 3 * D, D}), ForwardOp::Qkv, images * blocks.qkv - fused_qkv, 0);
  add("gemm.proj", dims({rows, D, D}), ForwardOp::Proj, images * blocks.proj, 0);
  add("gemm.fc1", dims({rows, M, D}), ForwardOp::Fc1, images * blocks.fc1, 0);
  add("gemm.fc2", dims({rows, D, M}), ForwardOp::Fc2, images * blocks.fc2, 0);
  add("attention", dims({T, H, c.head_dim()}), ForwardOp::Attention,
      images * blocks.attention - fused_attention, 0);
  add("qkv+attention", dims({rows, 3 * D, D}), ForwardOp::QkvAttention,
      fused_qkv + fused_attention, 0);
  // Every LN1 and all but the last LN2 over all rows; the last LN2 and the final norm over the
  // rows the last block keeps.
  add("layer_norm", dims({rows, D}), ForwardOp::LayerNorm, 0,
      (2 * layers - 1) * core::flops::elementwise_bytes(rows * D) +
          2 * core::flops::elementwise_bytes(last_rows * D));
  {
    BreakdownClass gelu;
    gelu.name = "gelu";
    gelu.shape = dims({rows, M});
    gelu.note = "fused into gemm.fc1's epilogue";
    b.classes.push_back(gelu);
  }
  // Unfused only when the attn_out tap is recorded: read x and the projection, write x.
  add("residual", dims({rows, D}), ForwardOp::Residual, 0,
      times.calls[static_cast<size_t>(ForwardOp::Residual)] ? layers * 12.0 * rows * D : 0);
  // The patch GEMM runs over all N·T rows (the class-token rows are zero), as the forward does.
  add("patch_embed", dims({rows, D, K}), ForwardOp::Patch, core::flops::linear(rows, D, K), 0);
  add("head", dims({N, c.num_labels, D}), ForwardOp::Head,
      core::flops::linear(N, c.num_labels, D), 0);
  // im2col (read the pixels, write the patch matrix) and the position embedding (read and
  // write x): the least those passes move.
  add("other", "", ForwardOp::Other, 0,
      4.0 * (static_cast<double>(N * c.num_channels * S * S) + static_cast<double>(rows * K)) +
          core::flops::elementwise_bytes(rows * D));
  for (BreakdownClass& k : b.classes) {
    if (k.name == "residual" && k.calls == 0) {
      k.note = "fused into gemm.proj's and gemm.fc2's epilogues";
    }
    if (k.name == "other") k.note = "im2col, position embedding, the last block's rows, pooling";
    if (k.name == "qkv+attention" && k.calls > 0) {
      k.note = "qkv GEMM and attention in one task per head";
    }
    b.seconds_per_forward += k.seconds;
  }
  double idle = 0;
  for (const double s : times.idle_thread_seconds) idle += s;
  b.idle_percent = idle_percent(idle / forwards, b.seconds_per_forward);
  for (BreakdownClass& k : b.classes) {
    k.share = b.seconds_per_forward > 0 ? 100.0 * k.seconds / b.seconds_per_forward : 0;
    if (k.seconds <= 0) continue;
    if (k.flops > 0) {
      k.gflops = k.flops * 1e-9 / k.seconds;
      k.percent_peak = b.peak_gflops > 0 ? 100.0 * k.gflops / b.peak_gflops : 0;
    }
    if (k.bytes > 0) {
      k.gbs = k.bytes * 1e-9 / k.seconds;
      k.percent_bandwidth = b.bandwidth_gbs > 0 ? 100.0 * k.gbs / b.bandwidth_gbs : 0;
    }
  }
  return b;
}

Breakdown measure_breakdown(const ModelUnderTest& model, const BenchBackend& backend, size_t batch,
                            size_t threads, const Peaks& peaks, double min_seconds,
                            uint64_t input_seed) {
  if (!backend.kernels) {
    core::fail("--breakdown", "backend \"" + backend.name +
                                  "\" has no kernel set to time op by op (the reference has none)");
  }
  optimized::ForwardTimes times;
  const core::Tensor images = core::generate_images(model.model.config, batch, input_seed);
  auto prepared = optimized::prepare_model(model.model, *backend.kernels, threads, &times);
  prepared->forward(images, nullptr);  // buffers sized, pages touched, caches warm: not counted
  times = optimized::ForwardTimes{};
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  double elapsed = 0;
  while (times.forwards < 3 || elapsed < min_seconds) {
    prepared->forward(images, nullptr);
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  }
  Breakdown b = summarize_breakdown(model.model.config, times, batch, threads, peaks);
  b.model = model.id;
  b.backend = backend.name;
  b.wall_seconds_per_forward = elapsed / static_cast<double>(times.forwards);
  return b;
}

nlohmann::json to_json(const Breakdown& b) {
  nlohmann::json classes = nlohmann::json::array();
  for (const BreakdownClass& k : b.classes) {
    nlohmann::json j = {{"class", k.name},        {"shape", k.shape},
                        {"calls", k.calls},        {"ms", k.seconds * 1e3},
                        {"share_percent", k.share}, {"gflop", k.flops * 1e-9},
                        {"bytes", k.bytes}};
    if (k.gflops > 0) {
      j["GFLOP/s"] = k.gflops;
      j["%peak"] = k.percent_peak;
    }
    if (k.gbs > 0) {
      j["GB/s"] = k.gbs;
      j["%bandwidth"] = k.percent_bandwidth;
    }
    if (k.pool_regions > 0) {
      j["pool_regions"] = k.pool_regions;
      j["idle_percent"] = k.idle_percent;
    }
    if (!k.note.empty()) j["note"] = k.note;
    classes.push_back(j);
  }
  return {{"model", b.model},
          {"backend", b.backend},
          {"batch", b.batch},
          {"threads", b.threads},
          {"forwards", b.forwards},
          {"ms_per_forward", b.seconds_per_forward * 1e3},
          {"wall_ms_per_forward", b.wall_seconds_per_forward * 1e3},
          {"fma_peak_gflops", b.peak_gflops},
          {"bandwidth_gbs", b.bandwidth_gbs},
          {"idle_percent", b.idle_percent},
          {"method", "lap timer in the shared forward pass (optimized/forward.h)"},
          {"classes", classes}};
}

std::string format_breakdown(const Breakdown& b) {
  std::ostringstream out;
  out << "\n== Breakdown: " << b.model << " on " << b.backend << ", batch " << b.batch << ", "
      << b.threads << " thread(s), " << b.forwards << " forwards of "
      << fixed(b.seconds_per_forward * 1e3, 1) << " ms (FMA peak " << fixed(b.peak_gflops, 1)
      << " GFLOP/s, DRAM " << fixed(b.bandwidth_gbs, 1) << " GB/s)\n";
  const std::vector<std::string> head = {"op class", "shape", "calls", "ms", "share %", "GFLOP/s",
                                         "% peak", "GB/s", "% DRAM", "idle %", "note"};
  std::vector<size_t> width = {0, 14, 6, 8, 8, 8, 7, 7, 7, 6, 0};
  for (const std::string& name : breakdown_class_names()) {
    width[0] = std::max(width[0], name.size());
  }
  auto row = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      out << (i ? "  " : "") << pad(cells[i], width[i], i < 2 || i + 1 == cells.size());
    }
    out << "\n";
  };
  row(head);
  for (const BreakdownClass& k : b.classes) {
    row({k.name, k.shape, std::to_string(k.calls), fixed(k.seconds * 1e3, 2), fixed(k.share, 1),
         k.gflops > 0 ? fixed(k.gflops, 1) : "-", k.gflops > 0 ? fixed(k.percent_peak, 1) : "-",
         k.gbs > 0 ? fixed(k.gbs, 1) : "-", k.gbs > 0 ? fixed(k.percent_bandwidth, 0) : "-",
         k.pool_regions > 0 ? fixed(k.idle_percent, 1) : "-", k.note});
  }
  out << "(% DRAM above 100 means the data stayed in cache; shares are of the laps' sum, "
      << fixed(b.wall_seconds_per_forward * 1e3, 1) << " ms per forward by the loop's clock;\n"
      << " idle %: the thread pool's workers waiting inside its parallel regions, for a late start"
      << " or the slowest worker, "
      << fixed(b.idle_percent, 1) << "% of the whole forward's thread time)\n";
  return out.str();
}

}  // namespace vitbench::bench
