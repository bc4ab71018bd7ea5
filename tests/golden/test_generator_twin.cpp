// The Python twin of the weight generator (golden/weights.py) against core's, bit for bit. The
// goldens hold no weights: PyTorch computed them with weights.py's values and every backend
// gets core::generate_weights', so the two must be the same floats.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/weights.h"
#include "golden/sha256.h"
#include "golden_test_util.h"

namespace vitbench::golden {
namespace {

using testing::read_json;

std::string hash_of(const core::Tensor& t) {
  return sha256_hex(std::string_view(reinterpret_cast<const char*>(t.data()),
                                     t.size() * sizeof(float)));
}

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// Compares every tensor of `config` under `seed` with the hashes Python wrote.
void expect_same_weights(const core::Config& config, uint64_t seed, const nlohmann::json& hashes,
                         const nlohmann::json* first_bits) {
  core::Weights w = core::generate_weights(config, seed);
  size_t checked = 0;
  for (const core::ParameterSlot& slot : core::parameter_slots(config, w)) {
    ASSERT_TRUE(hashes.contains(slot.name)) << slot.name;
    if (first_bits) {
      for (size_t i = 0; i < 3 && i < slot.tensor->size(); ++i) {
        EXPECT_EQ(bits_of((*slot.tensor)[i]), (*first_bits)[slot.name][i].get<uint32_t>())
            << slot.name << "[" << i << "] = " << (*slot.tensor)[i];
      }
    }
    EXPECT_EQ(hash_of(*slot.tensor), hashes[slot.name].get<std::string>()) << slot.name;
    ++checked;
  }
  EXPECT_EQ(checked + (hashes.contains("input") ? 1 : 0), hashes.size());
}

TEST(GeneratorTwin, MatchesTheCheckedInDocument) {
  const nlohmann::json doc = read_json(testing::source_dir() + "/golden/generator_check.json");
  // The plain ViT twice, one with most variants, a distilled DeiT, and a register model.
  ASSERT_EQ(doc["configs"].size(), 5u);
  for (const auto& entry : doc["configs"]) {
    const core::Config config = core::parse_config(entry["config"], "generator_check.json");
    const uint64_t seed = entry["seed"].get<uint64_t>();
    SCOPED_TRACE(entry["config"].dump());
    expect_same_weights(config, seed, entry["sha256"], &entry["first_bits"]);
    const core::Tensor images = core::generate_images(
        config, entry["images"].get<size_t>(), entry["image_seed"].get<uint64_t>());
    EXPECT_EQ(hash_of(images), entry["input_sha256"].get<std::string>());
  }
  ASSERT_EQ(doc["draws"].size(), 4u);
  for (const auto& d : doc["draws"]) {
    const std::string name = d["name"].get<std::string>();
    EXPECT_EQ(core::fnv1a64(name), d["fnv1a64"].get<uint64_t>()) << name;
    const double u = core::uniform_draw(d["seed"].get<uint64_t>(), core::fnv1a64(name),
                                        d["index"].get<uint64_t>());
    EXPECT_EQ(u * 16777216.0, static_cast<double>(d["k"].get<uint64_t>())) << name;
  }
}

TEST(GeneratorTwin, PythonAgreesOnAFreshConfigWhenNumpyIsPresent) {
  if (!testing::python_can("import numpy")) {
    GTEST_SKIP() << "SKIPPED: /usr/bin/python3 with numpy not found; the checked-in "
                    "generator_check.json still ties the twin to core (apt-get install "
                    "python3-numpy to run this)";
  }
  testing::TempDir dir;
  // Odd sizes, the tanh GELU, and a sin-cos model without q/k/v bias, unlike the checked-in ones.
  core::Config config;
  config.hidden_size = 20;
  config.num_layers = 2;
  config.num_heads = 5;
  config.intermediate_size = 33;
  config.image_size = 15;
  config.patch_size = 5;
  config.num_labels = 4;
  config.labels = {"a", "b", "c", "d"};
  config.qkv_bias = false;
  config.position_embedding = core::PositionEmbedding::Sincos;
  config.gelu = core::GeluKind::Tanh;
  testing::write_json(dir.file("config.json"), core::config_to_json(config));
  const uint64_t seed = 0xC0FFEE0123456789ULL;
  const std::string cmd = "PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 " + testing::source_dir() +
                          "/golden/weights.py --config " + dir.file("config.json") + " --seed " +
                          std::to_string(seed) + " --images 2 --image-seed 99 > " +
                          dir.file("out.json");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const nlohmann::json hashes = read_json(dir.file("out.json"));
  expect_same_weights(config, seed, hashes, nullptr);
  EXPECT_EQ(hash_of(core::generate_images(config, 2, 99)), hashes["input"].get<std::string>());
}

TEST(GeneratorTwin, CheckedInDocumentIsWhatThePythonWritesToday) {
  if (!testing::python_can("import numpy")) {
    GTEST_SKIP() << "SKIPPED: /usr/bin/python3 with numpy not found";
  }
  testing::TempDir dir;
  const std::string cmd = "PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 " + testing::source_dir() +
                          "/golden/weights.py --write-check " + dir.file("check.json");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_EQ(testing::read_bytes(dir.file("check.json")),
            testing::read_bytes(testing::source_dir() + "/golden/generator_check.json"))
      << "golden/generator_check.json is stale: rerun weights.py --write-check";
}

}  // namespace
}  // namespace vitbench::golden
