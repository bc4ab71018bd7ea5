// vitbench attention: where the class token looks. One image through one backend with the
// attention probabilities tapped, drawn as a heatmap over the picture the model saw.
//
// Presets (vit-ti16, ...) have synthetic weights: their maps are exact for those weights but mean
// nothing about the image; a trained model folder gives meaningful ones.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/backends.h"
#include "cli/commands.h"
#include "cli/option_checks.h"
#include "cli/simd_option.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/images.h"
#include "core/model_loader.h"
#include "core/npy.h"
#include "core/taps.h"
#include "imaging/attention.h"
#include "imaging/decode.h"
#include "imaging/encode.h"
#include "imaging/heatmap.h"
#include "imaging/preprocess.h"

namespace vitbench::cli {
namespace {

struct AttentionOptions {
  std::string model = "vit-ti16";
  uint64_t seed = 0;
  std::string image;
  std::string output;
  std::optional<size_t> layer;
  std::optional<size_t> head;
  bool rollout = false;
  std::string npy;
  bool npy_given = false;
  std::string backend = "reference";
  size_t threads = 1;
};

// A folder's own name, not its whole path: the title must fit over the picture.
std::string title_name(const std::string& model) {
  std::filesystem::path p(model);
  if (!p.has_filename()) p = p.parent_path();  // "dir/" names "dir"
  return p.filename().empty() ? model : p.filename().string();
}

// `--npy` alone: the map goes beside the PNG, out.png -> out.npy.
std::string npy_path(const AttentionOptions& o) {
  if (!o.npy_given || !o.npy.empty()) return o.npy;
  return std::filesystem::path(o.output).replace_extension(".npy").string();
}

int run_attention(const AttentionOptions& o) {
  check_backend_name(o.backend);
  core::require_output_folder(o.output);
  const std::string npy = npy_path(o);
  if (!npy.empty()) core::require_output_folder(npy);
  if (npy == o.output) core::fail(npy, "--npy would overwrite the heatmap (-o)");
  const core::Model model = core::load_model(o.model, o.seed);
  const core::Config& c = model.config;
  const size_t layers = c.num_layers;
  const size_t layer = o.layer.value_or(layers - 1);
  if (layer >= layers) {
    core::fail("--layer", "layer " + std::to_string(layer) + " does not exist (the model has " +
                              std::to_string(layers) + " layers: 0 to " +
                              std::to_string(layers - 1) + ")");
  }
  if (o.head && *o.head >= c.num_heads) {
    core::fail("--head", "head " + std::to_string(*o.head) + " does not exist (the model has " +
                             std::to_string(c.num_heads) + " heads: 0 to " +
                             std::to_string(c.num_heads - 1) + ")");
  }
  if (!c.class_token) {
    core::fail(c.name, "the model has no class token, whose attention the maps show");
  }
  if (c.num_channels != 3) {
    core::fail(c.name, "image files need a 3-channel (RGB) model; this one has " +
                           std::to_string(c.num_channels) + " channels");
  }

  const imaging::PreprocessConfig prep = imaging::preprocess_config_for_model(o.model, c);
  const imaging::RgbImage picture = imaging::read_image_file(o.image);
  const imaging::RgbImage view = imaging::model_view(picture, prep, c, o.image);
  const core::Tensor images = imaging::views_to_tensor({view}, prep);
  core::check_images(c, images, o.image);

  // Rollout needs every layer up to the chosen one; a single map only that layer.
  const size_t first = o.rollout ? 0 : layer;
  core::Taps taps;
  for (size_t l = first; l <= layer; ++l) taps.request(core::tap::attn_probs(l));
  run_backend(o.backend, model, images, &taps, o.threads);
  std::vector<const core::TensorD*> probs;
  for (size_t l = first; l <= layer; ++l) {
    const std::string name = core::tap::attn_probs(l);
    if (!taps.has(name)) {
      core::fail("--backend", "backend \"" + o.backend + "\" did not record " + name +
                                  " (it cannot produce attention maps yet)");
    }
    probs.push_back(&taps.get(name));
  }

  const size_t prefix = model.config.num_prefix_tokens();
  const core::TensorD map = o.rollout ? imaging::attention_rollout(probs, 0, prefix)
                                      : imaging::class_token_attention(*probs[0], 0, o.head, prefix);
  std::string what;
  if (o.rollout) {
    what = "attention rollout, layers 0-" + std::to_string(layer);
  } else {
    what = "class-token attention, layer " + std::to_string(layer) + ", " +
           (o.head ? "head " + std::to_string(*o.head)
                   : "mean of " + std::to_string(c.num_heads) + " heads");
  }
  // Drawn over the picture as decoded, not the model's square view, so a photo keeps its shape.
  const imaging::RgbImage heatmap =
      imaging::render_heatmap_over(picture, imaging::view_placement(picture, prep, c, o.image),
                                   map, title_name(c.name) + ": " + what);
  imaging::write_png(o.output, heatmap);
  if (!npy.empty()) core::write_npy(npy, map);

  double lo = map[0], hi = map[0], sum = 0;
  for (double v : map.span()) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
  }
  std::printf("model %s, backend %s: %s, %zux%zu patches\n", c.name.c_str(), o.backend.c_str(),
              what.c_str(), map.dim(0), map.dim(1));
  std::printf("min %.6g, max %.6g, sum over patches %.6g\n", lo, hi, sum);
  std::printf("heatmap (%zux%zu, over the %zux%zu image) written to %s\n", heatmap.width,
              heatmap.height, picture.width, picture.height, o.output.c_str());
  if (!npy.empty()) {
    std::printf("map [%zu, %zu] (float64) written to %s\n", map.dim(0), map.dim(1), npy.c_str());
  }
  return 0;
}

}  // namespace

Command add_attention_command(CLI::App& app) {
  auto o = std::make_shared<AttentionOptions>();
  CLI::App* sub = app.add_subcommand(
      "attention",
      "Draw where the class token attends, over the image, as a PNG heatmap (presets have "
      "synthetic weights: their maps are correct but not meaningful)");
  sub->add_option("--model", o->model,
                  "Model folder (HuggingFace's or timm's config.json + model.safetensors, "
                  "optional preprocessor_config.json) or preset: vit-ti16, vit-s16, vit-b16, vit-l16, "
                  "with @SIZE for another image size")
      ->capture_default_str();
  sub->add_option("--seed", o->seed, "Seed of a preset's synthetic weights")->capture_default_str();
  sub->add_option("--image", o->image, "Image file: PNG, JPEG, BMP, or binary PPM/PGM")->required();
  sub->add_option("-o,--output", o->output, "PNG to write (its folder must exist)")->required();
  sub->add_option("--layer", o->layer,
                  "Layer, from 0 (default: the last); with --rollout, the last layer rolled out");
  auto* head = sub->add_option("--head", o->head, "One head, from 0 (default: the mean over heads)");
  sub->add_flag("--rollout", o->rollout,
                "Attention rollout (Abnar & Zuidema 2020): head-averaged attention plus identity, "
                "renormalised, multiplied through layers 0 to --layer")
      ->excludes(head);
  CLI::Option* npy = sub->add_option(
      "--npy", o->npy,
      "Also write the raw map [G, G] as float64 .npy: to this file, or without a value beside the "
      "PNG (out.png -> out.npy)");
  npy->expected(0, 1);
  sub->add_option("--backend", o->backend, "Backend (see `vitbench backends`)")
      ->capture_default_str();
  sub->add_option("--threads", o->threads, thread_count_help())
      ->check(thread_count())
      ->capture_default_str();
  auto simd = add_simd_option(sub);
  return {sub, [o, npy, simd] {
            apply_simd_option(*simd);
            o->npy_given = npy->count() > 0;
            return run_attention(*o);
          }};
}

}  // namespace vitbench::cli
