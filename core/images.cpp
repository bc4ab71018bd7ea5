#include "core/images.h"

#include <cmath>

#include "core/error.h"

namespace vitbench::core {

void check_images(const Config& c, const Tensor& images, const std::string& where) {
  if (images.rank() != 4) {
    fail(where, "expected images shaped [N, C, H, W], got rank " + std::to_string(images.rank()) +
                    " " + shape_to_string(images.shape()));
  }
  const Shape& s = images.shape();
  if (s[0] == 0) fail(where, "the batch is empty");
  if (s[1] != c.num_channels) {
    fail(where, "images have " + std::to_string(s[1]) + " channels, the model expects " +
                    std::to_string(c.num_channels));
  }
  if (s[2] != c.image_size || s[3] != c.image_size) {
    fail(where, "images are " + std::to_string(s[2]) + "x" + std::to_string(s[3]) +
                    ", the model expects " + std::to_string(c.image_size) + "x" +
                    std::to_string(c.image_size));
  }
  const size_t plane = s[1] * s[2] * s[3];
  for (size_t i = 0; i < images.size(); ++i) {
    if (!std::isfinite(images[i])) {
      fail(where, std::string(std::isnan(images[i]) ? "NaN" : "Inf") + " in image " +
                      std::to_string(i / plane) + " at element " + std::to_string(i % plane));
    }
  }
}

}  // namespace vitbench::core
