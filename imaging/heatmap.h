// Drawing an attention map over the picture the model saw, with a colour scale, as a PNG.
//
// The map (a G x G grid of patch values) is stretched over the image with bilinear interpolation
// between patch centres, mapped to colour with viridis (perceptually uniform, readable in gray and
// by colour-blind readers) from the map's minimum to its maximum, and blended half-and-half with
// the image. The bar at the right shows the scale with the actual minimum, middle and maximum
// values, so maps with very different ranges are not mistaken for each other. Text is drawn with
// stb_easy_font (libstb-dev). Small images are enlarged by an integer factor (nearest neighbour)
// so the picture is at least kMinDisplay pixels wide.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "imaging/image.h"

namespace vitbench::imaging {

inline constexpr size_t kMinDisplay = 384;

// t in [0, 1] (clamped) to viridis, interpolated linearly between 9 samples of matplotlib's table.
std::array<uint8_t, 3> viridis(double t);

// `map` is [G, G] with finite values; `view` is the model's input picture (imaging/preprocess.h).
RgbImage render_heatmap(const RgbImage& view, const core::TensorD& map, const std::string& title);

}  // namespace vitbench::imaging
