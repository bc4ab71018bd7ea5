// Model folders as timm and transformers write them (golden/folders/, golden/unsupported/; made by
// golden/generate_folders.py where those libraries are installed). Every backend reads each
// supported folder (the plain ViT; timm's CLIP towers, DeiT III, distilled DeiT, fc_norm, register
// and QK-norm variants; transformers' two DeiT classes) as the library built it and matches the
// library's own float64 outputs, tap by tap; a folder that reads as another model fails every
// backend. golden/unsupported's folders, of variants this suite refuses, are refused naming the
// variant.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/backends.h"
#include "core/error.h"
#include "core/metrics.h"
#include "core/model_loader.h"
#include "core/npy.h"
#include "golden/manifest.h"
#include "golden/tolerance.h"
#include "golden/verify.h"
#include "golden_test_util.h"

namespace vitbench::golden {
namespace {

using testing::TempDir;

std::string folders_dir() { return testing::source_dir() + "/golden/folders"; }
std::string unsupported_dir() { return testing::source_dir() + "/golden/unsupported"; }

std::vector<Runner> every_backend() {
  std::vector<Runner> runners;
  for (const std::string& name : cli::all_backend_names()) {
    runners.push_back({name, name == "reference" ? kReferenceClass : kFloat32Class,
                       [name](const core::Model& m, const core::Tensor& images, core::Taps* taps,
                              size_t threads) {
                         return cli::run_backend(name, m, images, taps, threads);
                       }});
  }
  return runners;
}

std::vector<Case> every_case() {
  std::vector<Case> cases;
  for (const CaseRef& ref : list_cases(folders_dir())) cases.push_back(load_case(ref));
  return cases;
}

TEST(LibraryFolders, EveryBackendReadsThemAsTheLibraryBuiltThemAndMatchesItsOutputs) {
  const std::vector<Case> cases = every_case();
  std::set<std::string> libraries;
  for (const Case& c : cases) libraries.insert(c.library);
  EXPECT_EQ(libraries, (std::set<std::string>{"timm", "transformers"}));
  ASSERT_GE(cases.size(), 10u);

  for (const Case& c : cases) {
    testing::expect_clear_top1(c.taps.back().values, c.batch(), c.config.num_labels, c.name);
  }

  const VerifyReport report = verify(cases, every_backend(), 2);
  ASSERT_EQ(report.results.size(), cases.size() * cli::all_backend_names().size());
  for (const CaseResult& r : report.results) {
    EXPECT_TRUE(r.passed()) << r.case_name << " on " << r.backend << ": " << r.error << " "
                            << r.first_failing_tap;
    // Every tap the library exposes, not only the logits: embedding, each block's attention and
    // output, the final norm.
    EXPECT_GE(r.taps.size(), 5u) << r.case_name;
  }
}

TEST(LibraryFolders, TheFoldersAreTheLibrariesOwnFiles) {
  for (const Case& c : every_case()) {
    SCOPED_TRACE(c.name);
    ASSERT_FALSE(c.model_folder.empty());
    const nlohmann::json config = testing::read_json(c.model_folder + "/config.json");
    // Each library's own config.json, not ours: timm names one architecture and no dimensions,
    // transformers records its version.
    if (c.library == "timm") {
      EXPECT_TRUE(config.contains("architecture"));
      EXPECT_FALSE(config.contains("hidden_size"));
      EXPECT_TRUE(c.provenance.contains("timm"));
    } else {
      EXPECT_TRUE(config.contains("transformers_version"));
      EXPECT_TRUE(c.provenance.contains("transformers"));
    }
  }
  // What the tensors cannot show came through: transformers' label names, and a head count
  // that timm's config gives by its architecture name only.
  const Case hf = load_case(folders_dir() + "/hf-vit-b2");
  EXPECT_EQ(core::load_model_folder(hf.model_folder).config.labels.at(4), "class e");
  const Case deit = load_case(folders_dir() + "/timm-deit-tiny-namedheads-b1");
  EXPECT_FALSE(testing::read_json(deit.model_folder + "/config.json")["model_args"].contains(
      "num_heads"));
  EXPECT_EQ(core::load_model_folder(deit.model_folder).config.num_heads, 3u);
  // The variants timm builds from its registry (README "Model folders"), each read off the
  // folder: CLIP's tower, DeiT III, fc_norm.
  const core::Config clip = core::load_model_folder(folders_dir() + "/timm-clip-prenorm-b1").config;
  EXPECT_TRUE(clip.pre_norm);
  EXPECT_FALSE(clip.patch_bias);
  EXPECT_EQ(clip.layer_norm_eps, 1e-5);
  const core::Config deit3 =
      core::load_model_folder(folders_dir() + "/timm-deit3-layerscale-b1").config;
  EXPECT_TRUE(deit3.layer_scale);
  EXPECT_TRUE(deit3.no_embed_class);
  // Quick GELU shows in no tensor, only in the architecture's name.
  EXPECT_EQ(core::load_model_folder(folders_dir() + "/timm-clip-quickgelu-b1").config.gelu,
            core::GeluKind::Quick);
  const core::Config fc = core::load_model_folder(folders_dir() + "/timm-vit-fcnorm-b1").config;
  EXPECT_TRUE(fc.fc_norm);
  EXPECT_EQ(fc.pooling, core::Pooling::Mean);
  const core::Config distilled =
      core::load_model_folder(folders_dir() + "/timm-deit-distilled-b1").config;
  EXPECT_TRUE(distilled.distilled);
  EXPECT_EQ(distilled.num_prefix_tokens(), 2u);
  // timm's register tokens (no class token, the mean pooled through fc_norm) and QK norm.
  const core::Config reg4 = core::load_model_folder(folders_dir() + "/timm-vit-reg4-b1").config;
  EXPECT_EQ(reg4.register_tokens, 4u);
  EXPECT_FALSE(reg4.class_token);
  EXPECT_EQ(reg4.pooling, core::Pooling::Mean);
  EXPECT_TRUE(reg4.fc_norm);
  EXPECT_TRUE(core::load_model_folder(folders_dir() + "/timm-vit-qknorm-b1").config.qk_norm);
  // transformers' two DeiT classes, told apart by their tensors: a second head reads the
  // distillation token (our distilled DeiT), or no head does (our one register token).
  for (const auto& [name, architecture, is_distilled] :
       {std::tuple{"hf-deit-distilled-b1", "DeiTForImageClassificationWithTeacher", true},
        std::tuple{"hf-deit-b2", "DeiTForImageClassification", false}}) {
    SCOPED_TRACE(name);
    const std::string dir = folders_dir() + "/" + name;
    const nlohmann::json config = testing::read_json(dir + "/config.json");
    EXPECT_EQ(config["model_type"], "deit");
    EXPECT_EQ(config["architectures"], nlohmann::json::array({architecture}));
    const core::Config read = core::load_model_folder(dir).config;
    EXPECT_EQ(read.distilled, is_distilled);
    EXPECT_EQ(read.register_tokens, is_distilled ? 0u : 1u);
    EXPECT_EQ(read.num_prefix_tokens(), 2u);
  }
}

TEST(LibraryFolders, AFolderThatReadsAsAnotherModelFailsEveryBackend) {
  // A loader that read the wrong head count would compute another function; the check that the
  // folder reads as the library's model stops it before any backend runs.
  TempDir dir;
  const std::string copy = testing::copy_case("timm-vit-token-b2", dir.path().string(),
                                              folders_dir());
  nlohmann::json manifest = testing::read_json(copy + "/manifest.json");
  manifest["config"]["num_attention_heads"] = 6;
  testing::write_json(copy + "/manifest.json", manifest);
  const VerifyReport report = verify({load_case(copy)}, every_backend(), 1);
  for (const CaseResult& r : report.results) {
    EXPECT_FALSE(r.passed()) << r.backend;
    EXPECT_NE(r.error.find("reads as another model than timm built: num_attention_heads 3 "
                           "(timm: 6)"),
              std::string::npos)
        << r.error;
  }
}

TEST(LibraryFolders, ChangedWeightsAreACorruptedGolden) {
  TempDir dir;
  const std::string copy = testing::copy_case("hf-vit-b2", dir.path().string(), folders_dir());
  std::string bytes = testing::read_bytes(copy + "/model.safetensors");
  bytes[bytes.size() - 3] ^= 0x20;
  testing::write_bytes(copy + "/model.safetensors", bytes);
  try {
    load_case(copy);
    ADD_FAILURE() << "a changed model.safetensors was accepted";
  } catch (const CorruptedGolden& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors: corrupted golden: sha256"),
              std::string::npos)
        << e.what();
  }
}

// Every backend on `model` against the library's logits in case folder `dir`, within the float32
// class's logits tolerance, and every top-1 class the library's.
void expect_every_backend_gives_the_logits_in(const core::Model& model, const std::string& dir) {
  const core::Tensor input = core::read_npy_float32(dir + "/input.npy");
  const core::TensorD expected = core::read_npy(dir + "/logits.npy").values;
  const Tolerance tol =
      tolerance_for(model.config, "logits", kFloat32Class, core::NpyDtype::Float64);
  for (const std::string& backend : cli::all_backend_names()) {
    const core::TensorD logits = cli::run_backend(backend, model, input, nullptr, 2);
    const core::Comparison cmp =
        core::compare(logits.span(), expected.span(), model.config.num_labels);
    EXPECT_LE(cmp.max_rel_error, tol.max_rel) << backend << ": " << core::summarize(cmp);
    EXPECT_TRUE(cmp.all_argmax_agree()) << backend;
  }
}

// transformers' DeiTForImageClassificationWithTeacher is timm's distilled DeiT under other names
// (README, after the table of names): timm's distilled folder saved under DeiT's names must read
// as the same model and give timm's logits (transformers' own folder is hf-deit-distilled-b1).
TEST(LibraryFolders, TimmsDistilledDeiTUnderTransformersNamesGivesTimmsLogits) {
  const std::string timm_dir = folders_dir() + "/timm-deit-distilled-b1";
  const core::Model timm_model = core::load_model_folder(timm_dir);
  TempDir dir;
  core::save_model_folder(timm_model, dir.path().string(), core::NameScheme::HuggingFace);
  EXPECT_EQ(testing::read_json(dir.path().string() + "/config.json")["architectures"],
            nlohmann::json::array({"DeiTForImageClassificationWithTeacher"}));
  core::Model deit = core::load_model_folder(dir.path().string());
  EXPECT_TRUE(deit.config.distilled);
  EXPECT_EQ(core::config_to_json(deit.config), core::config_to_json(timm_model.config));
  expect_every_backend_gives_the_logits_in(deit, timm_dir);
}

// golden/unsupported holds folders of variants this suite refuses, as timm writes them, with
// timm's logits for the day they are computed. Each must be refused by load_model_folder in a
// message that names its config.json and the variant its manifest names, never read as a plain
// ViT.
const std::set<std::string> kRefusedVariants = {"timm-vit-map-b1", "timm-vit-rope-b1"};

TEST(UnsupportedVariants, EachIsRefusedNamingItsVariant) {
  std::set<std::string> seen;
  for (const CaseRef& ref : list_cases(unsupported_dir())) {  // its folders and its index
    const std::string& dir = ref.dir;
    SCOPED_TRACE(ref.name);
    seen.insert(ref.name);
    const nlohmann::json manifest = testing::read_json(dir + "/manifest.json");
    EXPECT_EQ(manifest["format"], "vitbench-golden-unsupported");
    const std::string variant = manifest.at("variant").get<std::string>();
    ASSERT_FALSE(variant.empty());
    try {
      core::load_model_folder(dir);
      ADD_FAILURE() << "a folder of " << variant << " was read as a model we compute";
    } catch (const core::Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(dir + "/config.json"), std::string::npos) << what;
      EXPECT_NE(what.find(variant), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
  EXPECT_EQ(seen, kRefusedVariants);
}

}  // namespace
}  // namespace vitbench::golden
