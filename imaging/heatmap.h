// Drawing an attention map over the picture the model saw, with a colour scale, as a PNG.
//
// The map (a G x G grid of patch values) is stretched over the part of the picture the model saw
// (the preprocessing's resize and crop undone, so the picture keeps its own aspect ratio) with
// bilinear interpolation between patch centres, mapped to colour with viridis (perceptually
// uniform, readable in gray and by colour-blind readers) from the map's minimum to its maximum,
// and blended half-and-half with the picture. The bar at the right shows the scale with the actual
// minimum, middle and maximum values, so maps with very different ranges are not mistaken for each
// other. Text is drawn with stb_easy_font (libstb-dev). The picture is drawn at its own size,
// except that one whose longer side is under kMinDisplay pixels is enlarged by a whole factor
// (nearest neighbour) to reach it, and one whose longer side is over kMaxDisplay is shrunk
// (bilinear) to fit. Parts the centre crop cut away are washed out to gray and left uncoloured.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "imaging/image.h"
#include "imaging/preprocess.h"

namespace vitbench::imaging {

inline constexpr size_t kMinDisplay = 384;
inline constexpr size_t kMaxDisplay = 1024;

// t in [0, 1] (clamped) to viridis, interpolated linearly between 9 samples of matplotlib's table.
std::array<uint8_t, 3> viridis(double t);

// `map` is [G, G] with finite values, over the model's view; `image` is the decoded picture and
// `placement` where the view lies in it (imaging/preprocess.h).
RgbImage render_heatmap_over(const RgbImage& image, const ViewPlacement& placement,
                             const core::TensorD& map, const std::string& title);

// Over the model's square view itself (`view` is what model_view returned).
RgbImage render_heatmap(const RgbImage& view, const core::TensorD& map, const std::string& title);

}  // namespace vitbench::imaging
