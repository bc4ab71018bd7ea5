// A model folder on arbitrary model.safetensors bytes, beside a fixed config.json of a tiny ViT
// (core::load_model_folder): the name schemes (timm, HuggingFace's ViT and DeiT classes), the
// class a HuggingFace file is read as, and every tensor's presence and shape, between the
// safetensors reader and the config parser that fuzz_safetensors and fuzz_config cover alone.
// An accepted model must hold every parameter its config implies, at that size.
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/model_loader.h"
#include "core/weights.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

// D 4 in 2 heads, one block, MLP 8, a 4×4 single-channel image in 2×2 patches (5 tokens with the
// class token), 2 classes: make_seeds.py writes its tensors under every naming. No model_type, so
// ViT's and DeiT's names are both the config's to take.
constexpr const char* kConfig = R"({"hidden_size": 4, "num_hidden_layers": 1,
  "num_attention_heads": 2, "intermediate_size": 8, "image_size": 4, "patch_size": 2,
  "num_channels": 1, "num_labels": 2, "layer_norm_eps": 1e-6})";

// A folder in /dev/shm (memory, like the other targets' memfds), removed at exit.
class Folder {
 public:
  Folder() {
    char pattern[] = "/dev/shm/vitbench-fuzz-model-XXXXXX";
    if (!::mkdtemp(pattern)) {
      std::perror("mkdtemp");
      std::abort();
    }
    dir_ = pattern;
    std::ofstream(dir_ + "/config.json") << kConfig;
  }
  ~Folder() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& write_weights(std::string_view bytes) {
    std::ofstream f(dir_ + "/model.safetensors", std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return dir_;
  }

 private:
  std::string dir_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vitbench;
  static Folder folder;
  const std::string& dir = folder.write_weights(fuzz::as_text(data, size));
  fuzz::accepts(dir, [&] {
    const core::Model model = core::load_model_folder(dir);
    try {
      core::check_weight_sizes(model, dir);
    } catch (const core::Error& e) {
      fuzz::contract_broken("an accepted model's weights disagree with its config", e.what());
    }
  });
  return 0;
}
