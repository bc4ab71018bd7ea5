#include "imaging/preprocess.h"

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_file.h"
#include "core/timm_config.h"
#include "imaging/decode.h"

namespace vitbench::imaging {
namespace {

using core::fail;
using nlohmann::json;

// Sizes beyond this are typos or hostile; they would ask for gigabytes per image.
constexpr size_t kMaxSide = 1 << 14;

bool bool_field(const json& j, const char* key, bool fallback, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) fail(where, std::string("\"") + key + "\" must be true or false, got " + it->dump());
  return it->get<bool>();
}

size_t side(const json& value, const std::string& name, const std::string& where) {
  if (!value.is_number_integer() || value.get<long long>() < 1 ||
      value.get<long long>() > static_cast<long long>(kMaxSide)) {
    fail(where, "\"" + name + "\" must be an integer in [1, " + std::to_string(kMaxSide) + "], got " +
                    value.dump());
  }
  return value.get<size_t>();
}

// {"height": h, "width": w} or a bare integer (a square, as ViTImageProcessor's get_size_dict).
void height_width(const json& value, const std::string& key, size_t* height, size_t* width,
                  const std::string& where) {
  if (value.is_number()) {
    *height = *width = side(value, key, where);
    return;
  }
  if (!value.is_object() || !value.contains("height") || !value.contains("width")) {
    fail(where, "\"" + key + "\" must be an integer or {\"height\", \"width\"}, got " + value.dump());
  }
  *height = side(value["height"], key + ".height", where);
  *width = side(value["width"], key + ".width", where);
}

std::array<double, 3> per_channel(const json& j, const char* key, std::array<double, 3> fallback,
                                  const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  std::array<double, 3> out{};
  if (it->is_number()) {
    out.fill(it->get<double>());
  } else if (it->is_array() && it->size() == 3 && (*it)[0].is_number() && (*it)[1].is_number() &&
             (*it)[2].is_number()) {
    for (size_t c = 0; c < 3; ++c) out[c] = (*it)[c].get<double>();
  } else {
    fail(where, std::string("\"") + key + "\" must be a number or a list of 3 numbers, got " + it->dump());
  }
  for (double v : out) {
    if (!std::isfinite(v)) fail(where, std::string("\"") + key + "\" must be finite");
  }
  return out;
}

// A per-channel standard deviation, which normalizing divides by: a zero entry is refused when
// the division happens (`used`).
std::array<double, 3> std_per_channel(const json& j, const char* key,
                                      std::array<double, 3> fallback, bool used,
                                      const std::string& where) {
  const std::array<double, 3> out = per_channel(j, key, fallback, where);
  for (double s : out) {
    if (used && s == 0) fail(where, std::string("\"") + key + "\" has a zero entry (division by zero)");
  }
  return out;
}

void refuse_if_set(const json& j, const char* key, const char* why, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null() || (it->is_boolean() && !it->get<bool>())) return;
  fail(where, std::string("\"") + key + "\" is not supported (" + why + ")");
}

}  // namespace

PreprocessConfig default_preprocess_config(const core::Config& model) {
  PreprocessConfig c;
  c.source = "ViTImageProcessor defaults (no preprocessor_config.json)";
  c.resize_height = c.resize_width = model.image_size;
  c.crop_height = c.crop_width = model.image_size;
  return c;
}

PreprocessConfig parse_preprocess_config(const json& j, const core::Config& model,
                                         const std::string& where) {
  if (!j.is_object()) fail(where, "expected a JSON object");
  PreprocessConfig c = default_preprocess_config(model);
  c.source = where;

  refuse_if_set(j, "crop_pct", "ConvNeXt-style resizing", where);
  refuse_if_set(j, "do_pad", "padding", where);
  refuse_if_set(j, "do_flip_channel_order", "BGR models", where);

  c.do_resize = bool_field(j, "do_resize", c.do_resize, where);
  if (auto it = j.find("size"); it != j.end() && !it->is_null()) {
    if (it->is_object() && it->contains("longest_edge")) {
      fail(where, "\"size\" with \"longest_edge\" is not supported (use height/width or shortest_edge)");
    }
    if (it->is_object() && it->contains("shortest_edge")) {
      c.resize_shortest_edge = true;
      c.shortest_edge = side((*it)["shortest_edge"], "size.shortest_edge", where);
    } else {
      height_width(*it, "size", &c.resize_height, &c.resize_width, where);
    }
  }
  if (auto it = j.find("resample"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer()) fail(where, "\"resample\" must be an integer, got " + it->dump());
    switch (it->get<long long>()) {
      case 2: c.resample = Resample::Bilinear; break;
      case 3: c.resample = Resample::Bicubic; break;
      case 0: fail(where, "\"resample\": 0 (nearest) is not supported (only 2 = bilinear, 3 = bicubic)");
      case 1: fail(where, "\"resample\": 1 (Lanczos) is not supported (only 2 = bilinear, 3 = bicubic)");
      case 4: fail(where, "\"resample\": 4 (box) is not supported (only 2 = bilinear, 3 = bicubic)");
      case 5: fail(where, "\"resample\": 5 (Hamming) is not supported (only 2 = bilinear, 3 = bicubic)");
      default: fail(where, "\"resample\" must be 2 (bilinear) or 3 (bicubic), got " + it->dump());
    }
  }

  c.do_center_crop = bool_field(j, "do_center_crop", c.do_center_crop, where);
  if (auto it = j.find("crop_size"); it != j.end() && !it->is_null()) {
    height_width(*it, "crop_size", &c.crop_height, &c.crop_width, where);
  }

  c.do_rescale = bool_field(j, "do_rescale", c.do_rescale, where);
  if (auto it = j.find("rescale_factor"); it != j.end() && !it->is_null()) {
    if (!it->is_number() || !std::isfinite(it->get<double>())) {
      fail(where, "\"rescale_factor\" must be a finite number, got " + it->dump());
    }
    c.rescale_factor = it->get<double>();
  }

  c.do_normalize = bool_field(j, "do_normalize", c.do_normalize, where);
  c.image_mean = per_channel(j, "image_mean", c.image_mean, where);
  c.image_std = std_per_channel(j, "image_std", c.image_std, c.do_normalize, where);
  return c;
}

PreprocessConfig parse_timm_data_config(const json& j, const core::Config& model,
                                        const std::string& where) {
  if (!j.is_object()) fail(where, "expected a JSON object");
  PreprocessConfig c = default_preprocess_config(model);
  c.source = where;
  c.crop_rounding = CropRounding::Torchvision;

  size_t height = model.image_size, width = model.image_size;
  if (auto it = j.find("input_size"); it != j.end() && !it->is_null()) {
    if (!it->is_array() || it->size() != 3) {
      fail(where, "\"input_size\" must be [channels, height, width], got " + core::excerpt(it->dump()));
    }
    height = side((*it)[1], "input_size[1]", where);
    width = side((*it)[2], "input_size[2]", where);
  }
  c.resample = Resample::Bicubic;  // resolve_data_config's default
  if (auto it = j.find("interpolation"); it != j.end() && !it->is_null()) {
    if (*it == "bicubic") {
      c.resample = Resample::Bicubic;
    } else if (*it == "bilinear") {
      c.resample = Resample::Bilinear;
    } else {
      fail(where, "\"interpolation\" " + core::excerpt(it->dump()) +
                      " is not supported (bilinear, bicubic)");
    }
  }
  double crop_pct = 0.875;  // DEFAULT_CROP_PCT
  if (auto it = j.find("crop_pct"); it != j.end() && !it->is_null()) {
    if (!it->is_number() || !(it->get<double>() > 0.01) || !(it->get<double>() <= 100)) {
      fail(where, "\"crop_pct\" must be a number in (0.01, 100], got " + core::excerpt(it->dump()));
    }
    crop_pct = it->get<double>();
  }
  std::string mode = "center";
  if (auto it = j.find("crop_mode"); it != j.end() && !it->is_null()) {
    if (!it->is_string() || (*it != "center" && *it != "squash")) {
      fail(where, "\"crop_mode\" " + core::excerpt(it->dump()) +
                      " is not supported (center, squash)");
    }
    mode = it->get<std::string>();
  }
  // 0 trims nothing, as timm's `if crop_border_pixels:` reads it.
  if (auto it = j.find("crop_border_pixels"); it != j.end() && !it->is_null() && *it != 0) {
    fail(where, "\"crop_border_pixels\" is not supported (trimming a border)");
  }

  // transforms_imagenet_eval: scale_size = floor(size / crop_pct) per axis (Python floats).
  const auto scaled = [&](size_t size) {
    const double s = std::floor(static_cast<double>(size) / crop_pct);
    if (!(s >= 1 && s <= static_cast<double>(kMaxSide))) {
      fail(where, "\"crop_pct\" " + std::to_string(crop_pct) + " scales " +
                      std::to_string(size) + " px out of range");
    }
    return static_cast<size_t>(s);
  };
  c.do_resize = true;
  if (mode == "squash") {
    c.resize_height = scaled(height);
    c.resize_width = scaled(width);
  } else {
    if (scaled(height) != scaled(width)) {
      fail(where, "a non-square \"input_size\" with crop_mode \"center\" is not supported");
    }
    c.resize_shortest_edge = true;
    c.shortest_edge = scaled(height);
  }
  c.do_center_crop = true;
  c.crop_height = height;
  c.crop_width = width;
  c.do_rescale = true;  // ToTensor's x / 255 in float32: the same floats as x * (1 / 255.0)
  c.do_normalize = true;
  c.image_mean = per_channel(j, "mean", {0.485, 0.456, 0.406}, where);  // IMAGENET_DEFAULT_MEAN
  c.image_std = std_per_channel(j, "std", {0.229, 0.224, 0.225}, true, where);  // IMAGENET_DEFAULT_STD
  return c;
}

PreprocessConfig preprocess_config_for_model(const std::string& model_dir_or_preset,
                                             const core::Config& model) {
  if (model_dir_or_preset.empty() || core::is_preset_name(model_dir_or_preset)) {
    return default_preprocess_config(model);
  }
  const std::filesystem::path dir(model_dir_or_preset);
  const std::string path = (dir / "preprocessor_config.json").string();
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return parse_preprocess_config(core::read_json_file(path, size_t(1) << 20), model, path);
  }
  const std::string config_path = (dir / "config.json").string();
  if (std::filesystem::exists(config_path, ec)) {
    const json config = core::read_json_file(config_path);
    if (core::is_timm_config(config)) {
      const json& data = core::timm_pretrained_cfg(config, config_path);
      return parse_timm_data_config(
          data, model, &data == &config ? config_path : config_path + ": pretrained_cfg");
    }
  }
  return default_preprocess_config(model);
}

namespace {

// The size after the resize step (the image's own size when do_resize is off).
void resized_size(const RgbImage& image, const PreprocessConfig& c, const std::string& where,
                  size_t* width, size_t* height) {
  *width = image.width;
  *height = image.height;
  if (!c.do_resize) return;
  *height = c.resize_height;
  *width = c.resize_width;
  if (!c.resize_shortest_edge) return;
  // get_resize_output_image_size(default_to_square=False): the long side is
  // int(shortest_edge * long / short), computed in floating point and truncated.
  const bool portrait = image.width <= image.height;
  const size_t short_side = portrait ? image.width : image.height;
  const size_t long_side = portrait ? image.height : image.width;
  const auto new_long = static_cast<size_t>(static_cast<double>(c.shortest_edge * long_side) /
                                            static_cast<double>(short_side));
  *width = portrait ? c.shortest_edge : new_long;
  *height = portrait ? new_long : c.shortest_edge;
  if (new_long == 0 || new_long > kMaxSide) {
    fail(where, "resizing its shortest edge to " + std::to_string(c.shortest_edge) + " gives " +
                    std::to_string(*width) + "x" + std::to_string(*height) + " (" + c.source + ")");
  }
}

}  // namespace

RgbImage model_view(const RgbImage& image, const PreprocessConfig& c, const core::Config& model,
                    const std::string& where) {
  RgbImage view = image;
  if (c.do_resize) {
    size_t width = 0, height = 0;
    resized_size(image, c, where, &width, &height);
    view = resize(view, width, height, c.resample);
  }
  if (c.do_center_crop) view = center_crop(view, c.crop_width, c.crop_height, c.crop_rounding);
  if (view.width != model.image_size || view.height != model.image_size) {
    fail(where, "preprocessing turns this " + std::to_string(image.width) + "x" +
                    std::to_string(image.height) + " image into " + std::to_string(view.width) +
                    "x" + std::to_string(view.height) + ", but the model expects " +
                    std::to_string(model.image_size) + "x" + std::to_string(model.image_size) +
                    " (preprocessing: " + c.source + ")");
  }
  return view;
}

ViewPlacement view_placement(const RgbImage& image, const PreprocessConfig& c,
                             const core::Config& model, const std::string& where) {
  ViewPlacement p;
  size_t width = 0, height = 0;
  resized_size(image, c, where, &width, &height);
  p.scale_x = static_cast<double>(width) / static_cast<double>(image.width);
  p.scale_y = static_cast<double>(height) / static_cast<double>(image.height);
  if (c.do_center_crop) {
    // The same corner as center_crop (imaging/resize.h), negative where the crop pads.
    p.left = static_cast<double>(crop_corner(width, c.crop_width, c.crop_rounding));
    p.top = static_cast<double>(crop_corner(height, c.crop_height, c.crop_rounding));
  }
  p.view_size = model.image_size;
  return p;
}

core::Tensor views_to_tensor(const std::vector<RgbImage>& views, const PreprocessConfig& c) {
  if (views.empty()) fail("images", "no images given");
  const size_t h = views[0].height, w = views[0].width;
  core::Tensor out({views.size(), 3, h, w});
  std::array<float, 3> mean{}, stdev{};
  for (size_t ch = 0; ch < 3; ++ch) {
    mean[ch] = static_cast<float>(c.image_mean[ch]);
    stdev[ch] = static_cast<float>(c.image_std[ch]);
  }
  for (size_t n = 0; n < views.size(); ++n) {
    const RgbImage& v = views[n];
    if (v.width != w || v.height != h) fail("images", "views of different sizes in one batch");
    for (size_t ch = 0; ch < 3; ++ch) {
      float* plane = out.data() + (n * 3 + ch) * h * w;
      for (size_t i = 0; i < h * w; ++i) {
        const uint8_t pixel = v.pixels[i * 3 + ch];
        // Float32 at each step, as HF's numpy code: rescale rounds the float64 product to
        // float32, normalize subtracts and divides in float32.
        float x = c.do_rescale ? static_cast<float>(static_cast<double>(pixel) * c.rescale_factor)
                               : static_cast<float>(pixel);
        if (c.do_normalize) x = (x - mean[ch]) / stdev[ch];
        plane[i] = x;
      }
    }
  }
  return out;
}

core::Tensor load_images_for_model(const std::vector<std::string>& paths, const core::Config& model,
                                   const std::string& model_dir_or_preset) {
  if (paths.empty()) fail("--image", "no image files given");
  if (model.num_channels != 3) {
    fail(model.name, "image files need a 3-channel (RGB) model; this one has " +
                         std::to_string(model.num_channels) + " channels");
  }
  const PreprocessConfig config = preprocess_config_for_model(model_dir_or_preset, model);
  std::vector<RgbImage> views;
  views.reserve(paths.size());
  for (const std::string& path : paths) {
    views.push_back(model_view(read_image_file(path), config, model, path));
  }
  return views_to_tensor(views, config);
}

}  // namespace vitbench::imaging
