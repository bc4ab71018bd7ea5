// From image files to the float input a model expects, following HuggingFace's image processors.
//
// A model folder's preprocessor_config.json is honoured when present: do_resize, size
// ({"height", "width"}, {"shortest_edge"}, or a bare integer meaning a square), resample (2 =
// bilinear, 3 = bicubic), do_center_crop and crop_size, do_rescale and rescale_factor,
// do_normalize, image_mean and image_std. Without the file (and for presets) the documented
// defaults of ViTImageProcessor apply: resize to the model's image_size with bilinear resampling,
// rescale by 1/255, normalize with mean and std 0.5 per channel.
//
// The steps and their arithmetic are those of the (PIL-based, not the "fast" torchvision-based)
// processors: decode to 8-bit RGB (imaging/decode.h); resize with PIL's algorithm on the 8-bit
// image, which rounds back to 8 bits (imaging/resize.h); center-crop, padding with black; then in
// float32: x = float32(pixel * rescale_factor) (the product in float64, as HF's rescale), then
// (x - float32(mean)) / float32(std). Where we differ from HF:
// - A key missing from preprocessor_config.json takes ViTImageProcessor's default, except that
//   size and crop_size default to the model's image_size instead of 224 (files written by
//   save_pretrained always carry every key).
// - Keys that would change the algorithm in ways not implemented here are refused, not ignored:
//   resample other than 2 or 3, a size with "longest_edge", crop_pct, do_pad, and
//   do_flip_channel_order. Unknown keys are ignored, as HF does.
// - JPEG decoding and EXIF orientation: see imaging/decode.h.
//
// A timm model folder (timm's own config.json, core/timm_config.h) without a
// preprocessor_config.json is preprocessed as timm evaluates it: timm's resolve_data_config on
// the config's pretrained_cfg (input_size, interpolation, crop_pct, crop_mode, mean, std; timm's
// defaults bicubic, 0.875, "center", ImageNet's mean and std), then transforms_imagenet_eval:
// resize (PIL, through torchvision) the shorter side to floor(size / crop_pct), or both sides for
// crop_mode "squash"; torchvision's CenterCrop (CropRounding::Torchvision); ToTensor, which
// divides by 255 in float32 (for every 8-bit value the same float as HF's rescale, tested);
// Normalize in float32. crop_mode "border", other interpolations and non-square inputs are
// refused. As timm itself, input_size rather than test_input_size.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/config.h"
#include "core/tensor.h"
#include "imaging/image.h"
#include "imaging/resize.h"

namespace vitbench::imaging {

struct PreprocessConfig {
  std::string source;  // the file it came from, or a note that defaults apply (for messages)

  bool do_resize = true;
  // Either an exact size, or the shorter side's length with the aspect ratio kept (the longer side
  // truncated to an integer, as HF's get_resize_output_image_size).
  bool resize_shortest_edge = false;
  size_t resize_height = 224, resize_width = 224, shortest_edge = 0;
  Resample resample = Resample::Bilinear;

  bool do_center_crop = false;
  size_t crop_height = 224, crop_width = 224;
  // Where HuggingFace's processors and torchvision's CenterCrop (timm) differ (imaging/resize.h).
  CropRounding crop_rounding = CropRounding::HuggingFace;

  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;

  bool do_normalize = true;
  std::array<double, 3> image_mean{0.5, 0.5, 0.5};
  std::array<double, 3> image_std{0.5, 0.5, 0.5};
};

// ViTImageProcessor's defaults, sized for `model`.
PreprocessConfig default_preprocess_config(const core::Config& model);

// Parses the contents of a preprocessor_config.json; `where` names the file in errors.
PreprocessConfig parse_preprocess_config(const nlohmann::json& json, const core::Config& model,
                                         const std::string& where);

// Parses timm's data config (a timm config.json's pretrained_cfg); `where` names it in errors.
PreprocessConfig parse_timm_data_config(const nlohmann::json& json, const core::Config& model,
                                        const std::string& where);

// MODEL/preprocessor_config.json when `model_dir_or_preset` is a folder that has one; else the
// pretrained_cfg of its config.json when that is timm's; the defaults for any other folder, for a
// preset name, and for "".
PreprocessConfig preprocess_config_for_model(const std::string& model_dir_or_preset,
                                             const core::Config& model);

// Resize and crop: the 8-bit picture the model will see. Throws core::Error naming `where` and the
// preprocessing's source when the result is not image_size x image_size.
RgbImage model_view(const RgbImage& image, const PreprocessConfig& config,
                    const core::Config& model, const std::string& where);

// Where the model's view lies in the original picture, so a map over the view can be drawn over
// the picture itself: a point at x pixels from the picture's left edge (continuous coordinates)
// is at x * scale_x - left pixels from the view's left edge, and likewise down. Points outside
// [0, view_size) were cropped away (or the view there is padding).
struct ViewPlacement {
  double scale_x = 1, scale_y = 1;  // resized size over the picture's size
  double left = 0, top = 0;         // the crop window's corner in the resized picture
  size_t view_size = 0;             // the model's image_size
};
ViewPlacement view_placement(const RgbImage& image, const PreprocessConfig& config,
                             const core::Config& model, const std::string& where);

// Rescale and normalize views (all image_size x image_size) into a batch [N, 3, H, W].
core::Tensor views_to_tensor(const std::vector<RgbImage>& views, const PreprocessConfig& config);

// The whole path, for `vitbench infer --image`: every file decoded, preprocessed, and stacked into
// one batch [N, 3, image_size, image_size], in the order given. Throws core::Error naming the
// offending file. Models with num_channels other than 3 are refused (the processors emit RGB).
core::Tensor load_images_for_model(const std::vector<std::string>& paths,
                                   const core::Config& model,
                                   const std::string& model_dir_or_preset);

}  // namespace vitbench::imaging
