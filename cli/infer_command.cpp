// vitbench infer: images through one backend, top-5 labels printed, logits optionally saved.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>

#include "cli/backends.h"
#include "cli/commands.h"
#include "core/atomic_file.h"
#include "core/images.h"
#include "core/model_loader.h"
#include "core/npy.h"

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
};

void print_top(const core::Config& config, const core::TensorD& logits, size_t top) {
  const size_t labels = config.num_labels;
  for (size_t n = 0; n < logits.dim(0); ++n) {
    const double* row = logits.data() + n * labels;
    // Probabilities by a max-subtracted softmax, in float64.
    const double max = *std::max_element(row, row + labels);
    double sum = 0;
    for (size_t j = 0; j < labels; ++j) sum += std::exp(row[j] - max);
    std::vector<size_t> order(labels);
    std::iota(order.begin(), order.end(), 0);
    const size_t k = std::min(top, labels);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](size_t a, size_t b) { return row[a] > row[b]; });
    std::printf("image %zu:\n", n);
    for (size_t r = 0; r < k; ++r) {
      const size_t j = order[r];
      std::printf("  %zu. %-30s p=%.4f  logit=%.4f  (class %zu)\n", r + 1,
                  config.labels[j].c_str(), std::exp(row[j] - max) / sum, row[j], j);
    }
  }
}

int run_infer(const InferOptions& o) {
  check_backend_name(o.backend);
  if (!o.output.empty()) core::require_output_folder(o.output);
  const core::Model model = core::load_model(o.model, o.seed);
  core::Tensor images;
  std::string where;
  if (!o.input.empty()) {
    images = core::read_npy_float32(o.input);
    where = o.input;
  } else {
    images = core::generate_images(model.config, o.batch, o.input_seed);
    where = "generated input";
  }
  core::check_images(model.config, images, where);

  const core::TensorD logits = run_backend(o.backend, model, images, nullptr, o.threads);
  require_finite_logits(o.backend, model, images, o.threads, logits);
  std::printf("model %s, backend %s, %zu image(s), %zu thread(s)\n", model.config.name.c_str(),
              o.backend.c_str(), images.dim(0), o.threads);
  print_top(model.config, logits, o.top);
  if (!o.output.empty()) {
    core::write_npy(o.output, core::convert<float>(logits));
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
                  "Model folder (config.json + model.safetensors) or preset: vit-ti16, vit-s16, "
                  "vit-b16, vit-l16, with @SIZE for another image size (vit-b16@384)")
      ->capture_default_str();
  sub->add_option("--seed", options->seed, "Seed of a preset's synthetic weights")
      ->capture_default_str();
  sub->add_option("--input", options->input,
                  ".npy of float32 or float64 images shaped [N, C, H, W], normalised as the model "
                  "expects (default: seeded synthetic images)");
  sub->add_option("--batch", options->batch, "Number of synthetic images when --input is not given")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--input-seed", options->input_seed, "Seed of the synthetic images")
      ->capture_default_str();
  sub->add_option("--backend", options->backend, "Backend (see `vitbench backends`)")
      ->capture_default_str();
  sub->add_option("--threads", options->threads, "Threads (a positive integer)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--output", options->output,
                  "Write float32 logits [N, num_labels] to this .npy (its folder must exist)");
  sub->add_option("--top", options->top, "How many classes to print per image")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return {sub, [options] { return run_infer(*options); }};
}

Command add_backends_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("backends", "List the backends");
  return {sub, [] {
            for (const std::string& name : all_backend_names()) std::printf("%s\n", name.c_str());
            return 0;
          }};
}

}  // namespace vitbench::cli
