// vitbench infer: images through one backend, top-5 labels printed, logits optionally saved.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/backends.h"
#include "cli/commands.h"
#include "cli/option_checks.h"
#include "cli/simd_option.h"
#include "core/atomic_file.h"
#include "core/images.h"
#include "core/model_loader.h"
#include "core/npy.h"
#include "imaging/preprocess.h"
#include "imaging/top_k.h"

namespace vitbench::cli {
namespace {

struct InferOptions {
  std::string model = "vit-ti16";
  uint64_t seed = 0;
  std::string input;
  size_t batch = 1;
  uint64_t input_seed = 1;
  std::string backend = "reference";
  size_t threads = 1;
  std::string output;
  size_t top = 5;
  std::vector<std::string> images;
  bool json = false;
};

// Names each row of the batch in the printed and JSON output.
std::vector<std::string> input_names(const InferOptions& o, size_t rows) {
  if (!o.images.empty()) return o.images;
  std::vector<std::string> names;
  for (size_t n = 0; n < rows; ++n) {
    names.push_back(o.input.empty()
                        ? "synthetic image " + std::to_string(n) + " (input seed " +
                              std::to_string(o.input_seed) + ")"
                        : o.input + "[" + std::to_string(n) + "]");
  }
  return names;
}

void print_top(const core::Config& config, const core::TensorD& logits, size_t top,
               const std::vector<std::string>& inputs) {
  const auto rows = imaging::top_k(logits, config.labels, top);
  for (size_t n = 0; n < rows.size(); ++n) {
    std::printf("image %zu: %s\n", n, inputs[n].c_str());
    for (size_t r = 0; r < rows[n].size(); ++r) {
      const imaging::TopClass& t = rows[n][r];
      std::printf("  %zu. %-30s p=%.4f  logit=%.4f  (class %zu)\n", r + 1, t.label.c_str(),
                  t.probability, t.logit, t.index);
    }
  }
}

int run_infer(const InferOptions& o) {
  check_backend_name(o.backend);
  if (!o.output.empty()) core::require_output_folder(o.output);
  const core::Model model = core::load_model(o.model, o.seed);
  core::Tensor images;
  std::string where;
  if (!o.images.empty()) {
    // One batch: every file decoded and preprocessed before any work, so a bad file anywhere in
    // the list stops the run before the model does.
    images = imaging::load_images_for_model(o.images, model.config, o.model);
    where = "--image";
  } else if (!o.input.empty()) {
    images = core::read_npy_float32(o.input);
    where = o.input;
  } else {
    images = core::generate_images(model.config, o.batch, o.input_seed);
    where = "generated input";
  }
  core::check_images(model.config, images, where);

  const core::TensorD logits = run_backend(o.backend, model, images, nullptr, o.threads);
  require_finite_logits(o.backend, model, images, o.threads, logits);
  const std::vector<std::string> inputs = input_names(o, images.dim(0));
  // Written before anything is printed, so a failed write never follows printed results.
  if (!o.output.empty()) core::write_npy(o.output, core::convert<float>(logits));
  if (o.json) {
    // stdout carries the JSON document alone, so it can be piped straight into a parser.
    nlohmann::json j = imaging::top_k_json(logits, model.config.labels, o.top, inputs);
    j["model"] = model.config.name;
    j["backend"] = o.backend;
    j["threads"] = o.threads;
    if (!o.output.empty()) j["logits_npy"] = o.output;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model %s, backend %s, %zu image(s), %zu thread(s)\n", model.config.name.c_str(),
              o.backend.c_str(), images.dim(0), o.threads);
  print_top(model.config, logits, o.top, inputs);
  if (!o.output.empty()) {
    std::printf("logits [%zu, %zu] written to %s\n", logits.dim(0), logits.dim(1),
                o.output.c_str());
  }
  return 0;
}

}  // namespace

Command add_infer_command(CLI::App& app) {
  auto options = std::make_shared<InferOptions>();
  CLI::App* sub = app.add_subcommand("infer", "Run images through a ViT and print the top classes");
  sub->add_option("--model", options->model,
                  "Model folder (HuggingFace's or timm's config.json + model.safetensors, "
                  "optional preprocessor_config.json) or preset: vit-ti16, vit-s16, vit-b16, vit-l16, "
                  "with @SIZE for another image size (vit-b16@384)")
      ->capture_default_str();
  sub->add_option("--seed", options->seed, "Seed of a preset's synthetic weights")
      ->capture_default_str();
  CLI::Option* input =
      sub->add_option("--input", options->input,
                      ".npy of float32 or float64 images shaped [N, C, H, W], normalised as the "
                      "model expects (default: seeded synthetic images)");
  CLI::Option* batch =
      sub->add_option("--batch", options->batch, "Number of synthetic images when --input is not given")
          ->check(positive_number())
          ->capture_default_str();
  CLI::Option* input_seed =
      sub->add_option("--input-seed", options->input_seed, "Seed of the synthetic images")
          ->capture_default_str();
  sub->add_option("--image", options->images,
                  "Image files (PNG, JPEG, BMP, binary PPM/PGM), run as one batch in the order "
                  "given; preprocessed as the model folder's preprocessor_config.json says, else "
                  "as a timm config.json's pretrained_cfg says, else with ViTImageProcessor's "
                  "defaults")
      ->expected(1, -1)
      ->excludes(input)
      ->excludes(batch)
      ->excludes(input_seed);
  sub->add_option("--backend", options->backend, "Backend (see `vitbench backends`)")
      ->capture_default_str();
  sub->add_option("--threads", options->threads, thread_count_help())
      ->check(thread_count())
      ->capture_default_str();
  sub->add_option("--output", options->output,
                  "Write float32 logits [N, num_labels] to this .npy (its folder must exist)");
  sub->add_option("--top", options->top, "How many classes to print per image")
      ->check(positive_number())
      ->capture_default_str();
  sub->add_flag("--json", options->json,
                "Print the top classes as one JSON document on stdout, and nothing else there");
  auto simd = add_simd_option(sub);
  return {sub, [options, simd] {
            apply_simd_option(*simd);
            return run_infer(*options);
          }};
}

Command add_backends_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("backends", "List the backends");
  return {sub, [] {
            for (const std::string& name : all_backend_names()) std::printf("%s\n", name.c_str());
            return 0;
          }};
}

}  // namespace vitbench::cli
