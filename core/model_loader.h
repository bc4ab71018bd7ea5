// From a model folder (config.json + model.safetensors, HuggingFace or timm tensor names) or a
// preset name to a validated Model in the canonical layout.
#pragma once

#include <cstdint>
#include <string>

#include "core/safetensors.h"
#include "core/weights.h"

namespace vitbench::core {

// HuggingFace: the state-dict names of transformers' ViTForImageClassification, or of DeiT's
// classes for a model with a distillation token (DeiTForImageClassificationWithTeacher for a
// distilled model, DeiTForImageClassification for one register token, which is what its unread
// distillation token is). Timm: timm's VisionTransformer names, the canonical ones.
enum class NameScheme { HuggingFace, Timm };

// Loads DIR/config.json and DIR/model.safetensors. The name scheme is detected from the tensor
// names. Every tensor must be present with the shape the config implies, none may be extra, and
// the classifier's rows must match num_labels; errors name the file and the tensor.
Model load_model_folder(const std::string& dir);

// A preset name ("vit-b16", "vit-ti16@384") gives seeded synthetic weights; anything else is
// read as a model folder.
Model load_model(const std::string& dir_or_preset, uint64_t seed);

// Writes a model folder in either scheme (used by tests and by `vitbench export-model`).
void save_model_folder(const Model& model, const std::string& dir, NameScheme scheme,
                       StDtype dtype = StDtype::F32);

}  // namespace vitbench::core
