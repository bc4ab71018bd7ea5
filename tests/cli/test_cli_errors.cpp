// Every bad input a user can hand `vitbench infer` ends in one clear line on stderr naming the
// file (and the tensor) and the problem, exit code 2, no crash, and no output file.
#include <cmath>
#include <cstring>
#include <functional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/model_loader.h"
#include "core/npy.h"
#include "tests/cli/cli_runner.h"

namespace vitbench::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class CliErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    model_dir_ = dir_ / "model";
    fs::create_directories(model_dir_);
    const core::Config c = small_config();
    core::save_model_folder({c, core::generate_weights(c, 3)}, model_dir_,
                            core::NameScheme::Timm);
    input_ = dir_ / "input.npy";
    core::write_npy(input_, core::generate_images(c, 2, 4));
    output_ = dir_ / "logits.npy";
  }

  std::string safetensors() const { return model_dir_ + "/model.safetensors"; }
  std::string config_json() const { return model_dir_ + "/config.json"; }

  CommandResult infer(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"infer", "--model", model_dir_, "--input", input_,
                                     "--output", output_};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args, dir_);
  }

  // The contract for every bad input.
  void expect_refused(const CommandResult& r, const std::string& names, const std::string& problem) {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err.rfind("vitbench: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_NE(r.err.find(names), std::string::npos) << "should name " << names << ": " << r.err;
    EXPECT_NE(r.err.find(problem), std::string::npos) << "should say " << problem << ": " << r.err;
    EXPECT_FALSE(fs::exists(output_)) << "no output may be left behind";
  }

  // Rewrites the safetensors header through `edit`, keeping the data section as it is.
  void edit_header(const std::function<void(json&)>& edit, const std::string& extra_data = "") {
    std::string bytes = read_bytes(safetensors());
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    json header = json::parse(bytes.substr(8, n));
    edit(header);
    std::string text = header.dump();
    const uint64_t m = text.size();
    std::string out(8, '\0');
    std::memcpy(out.data(), &m, 8);
    write_bytes(safetensors(), out + text + bytes.substr(8 + n) + extra_data);
  }

  TempDir dir_;
  std::string model_dir_, input_, output_;
};

TEST_F(CliErrors, TheGoodCaseWorks) {
  const CommandResult r = infer();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("image 1:"), std::string::npos) << r.out;
  const core::NpyArray logits = core::read_npy(output_);
  EXPECT_EQ(logits.dtype, core::NpyDtype::Float32);
  EXPECT_EQ(logits.values.shape(), (core::Shape{2, 5}));
}

TEST_F(CliErrors, TruncatedSafetensors) {
  const std::string bytes = read_bytes(safetensors());
  for (size_t keep : {size_t{4}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    write_bytes(safetensors(), bytes.substr(0, keep));
    expect_refused(infer(), "model.safetensors", "");
  }
}

TEST_F(CliErrors, HeaderLongerThanTheFile) {
  std::string bytes = read_bytes(safetensors());
  const uint64_t huge = bytes.size() + 100;
  std::memcpy(bytes.data(), &huge, 8);
  write_bytes(safetensors(), bytes);
  expect_refused(infer(), "model.safetensors", "header");
}

TEST_F(CliErrors, OverlappingOffsets) {
  edit_header([](json& h) {
    auto& a = h["norm.bias"]["data_offsets"];
    auto& b = h["norm.weight"]["data_offsets"];
    b = a;  // same size tensors, now on the same bytes
  });
  // Two tensors on the same bytes also leave the bytes the moved one held uncovered; the reader
  // may report either fault, but must report one.
  const CommandResult r = infer();
  expect_refused(r, "model.safetensors", "");
  EXPECT_TRUE(r.err.find("overlap") != std::string::npos ||
              r.err.find("belong to no tensor") != std::string::npos)
      << r.err;
}

TEST_F(CliErrors, OutOfRangeOffsets) {
  edit_header([](json& h) {
    auto& o = h["head.bias"]["data_offsets"];
    o[0] = o[0].get<uint64_t>() + 1000000;
    o[1] = o[1].get<uint64_t>() + 1000000;
  });
  expect_refused(infer(), "head.bias", "");
}

TEST_F(CliErrors, UnknownDtype) {
  edit_header([](json& h) { h["head.bias"]["dtype"] = "I64"; });
  expect_refused(infer(), "head.bias", "dtype");
}

TEST_F(CliErrors, MissingTensor) {
  // Renaming keeps every data byte covered, so the only fault is the name.
  edit_header([](json& h) {
    h["blocks.1.mlp.fc2.bias.renamed"] = h["blocks.1.mlp.fc2.bias"];
    h.erase("blocks.1.mlp.fc2.bias");
  });
  const CommandResult r = infer();
  EXPECT_NE(r.err.find("blocks.1.mlp.fc2.bias"), std::string::npos) << r.err;
  expect_refused(r, "model.safetensors", "");
}

TEST_F(CliErrors, ExtraTensor) {
  edit_header(
      [](json& h) {
        uint64_t data_end = 0;
        for (auto& [name, t] : h.items()) {
          if (name != "__metadata__") data_end = std::max(data_end, t["data_offsets"][1].get<uint64_t>());
        }
        h["blocks.9.extra"] = {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {data_end, data_end + 4}}};
      },
      std::string(4, '\0'));
  expect_refused(infer(), "blocks.9.extra", "");
}

TEST_F(CliErrors, ShapeDisagreesWithConfig) {
  json config = json::parse(read_bytes(config_json()));
  config["intermediate_size"] = 24;
  write_bytes(config_json(), config.dump());
  expect_refused(infer(), "mlp.fc1", "config");
}

TEST_F(CliErrors, ClassifierDisagreesWithNumLabels) {
  json config = json::parse(read_bytes(config_json()));
  config.erase("id2label");
  config.erase("label2id");
  config["num_labels"] = 6;
  write_bytes(config_json(), config.dump());
  expect_refused(infer(), "head.weight", "");
}

TEST_F(CliErrors, MalformedConfigJson) {
  write_bytes(config_json(), "{\"hidden_size\": 12,");
  expect_refused(infer(), "config.json", "malformed JSON");
}

TEST_F(CliErrors, InvalidConfigs) {
  const std::pair<const char*, json> bad[] = {
      {"num_attention_heads", 0},   {"num_attention_heads", 5}, {"num_hidden_layers", -1},
      {"image_size", 10},           {"hidden_act", "swish"},
  };
  for (const auto& [field, value] : bad) {
    json config = json::parse(read_bytes(config_json()));
    const json saved = config;
    config[field] = value;
    write_bytes(config_json(), config.dump());
    expect_refused(infer(), "config.json", field == std::string("hidden_act") ? "hidden_act" : "");
    write_bytes(config_json(), saved.dump());
  }
}

TEST_F(CliErrors, UncoveredDataBytes) {
  edit_header([](json&) {}, std::string(16, '\x7f'));
  expect_refused(infer(), "model.safetensors", "");
}

TEST_F(CliErrors, DuplicateTensorNames) {
  // nlohmann would merge duplicate keys, so the duplicate is spliced into the text.
  std::string bytes = read_bytes(safetensors());
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  std::string header = bytes.substr(8, n);
  const json parsed = json::parse(header);
  const std::string dup = "\"head.bias\":" + parsed["head.bias"].dump() + ",";
  header.insert(1, dup);
  const uint64_t m = header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &m, 8);
  write_bytes(safetensors(), out + header + bytes.substr(8 + n));
  expect_refused(infer(), "head.bias", "duplicate");
}

TEST_F(CliErrors, NpyWithWrongDtypeOrderRankOrSize) {
  const core::Tensor good = core::read_npy_float32(input_);
  std::string bytes = core::encode_npy(good);
  auto replace = [](std::string s, const std::string& from, const std::string& to) {
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  write_bytes(input_, replace(bytes, "'<f4'", "'<i4'"));
  expect_refused(infer(), "input.npy", "");
  write_bytes(input_, replace(bytes, "False", "True "));
  expect_refused(infer(), "input.npy", "Fortran");
  write_bytes(input_, bytes.substr(0, bytes.size() - 8));
  expect_refused(infer(), "input.npy", "");
  core::Tensor rank3({3, 8, 8}, 0.5f);
  core::write_npy(input_, rank3);
  expect_refused(infer(), "input.npy", "[N, C, H, W]");
}

TEST_F(CliErrors, ImageSizeDisagreesWithConfig) {
  core::Tensor wrong({1, 3, 12, 12}, 0.25f);
  core::write_npy(input_, wrong);
  expect_refused(infer(), "input.npy", "12x12");
}

TEST_F(CliErrors, NanOrInfInTheInput) {
  core::Tensor images = core::read_npy_float32(input_);
  images[77] = NAN;
  core::write_npy(input_, images);
  expect_refused(infer(), "input.npy", "NaN");
  images[77] = -INFINITY;
  core::write_npy(input_, images);
  expect_refused(infer(), "input.npy", "Inf");
}

TEST_F(CliErrors, UnknownOptionOrBackendAndBadThreads) {
  expect_refused(infer({"--frobnicate"}), "--frobnicate", "");
  expect_refused(infer({"--backend", "gpu"}), "gpu", "unknown backend");
  for (const char* threads : {"0", "-2", "two", "nan"}) {
    expect_refused(infer({"--threads", threads}), "--threads",
                   std::string("must be a positive number, not \"") + threads + "\"");
  }
  expect_refused(infer({"--threads", "1.5"}), "--threads", "1.5");
  // Far more threads than any CPU has: refused at once (optimized::kMaxThreads), where starting
  // them would take seconds before the system refused one.
  expect_refused(infer({"--threads", "100000"}), "--threads", "at most 1024, not 100000");
  expect_refused(infer({"--top", "0"}), "--top", "must be a positive number");
}

TEST_F(CliErrors, OutputFolderMustExist) {
  output_ = dir_ / "no/such/folder/logits.npy";
  expect_refused(infer(), "no/such/folder", "does not exist");
  EXPECT_FALSE(fs::exists(dir_ / "no"));
}

TEST_F(CliErrors, EverySubcommandHasHelp) {
  for (const char* sub : {"infer", "backends"}) {
    const CommandResult r = run_cli({sub, "--help"}, dir_);
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.out.find("--help"), std::string::npos) << sub;
  }
}

}  // namespace
}  // namespace vitbench::testing
