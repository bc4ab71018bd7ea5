// The fixtures of tests/imaging/data (written by make_fixtures.py with PIL and numpy; see there),
// and a PPM reader written here by hand so that expected images never pass through the decoder
// under test.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "imaging/image.h"
#include "tests/file_bytes.h"

namespace vitbench::testing {

inline std::string fixture_path(const std::string& name) {
  return std::string(VITBENCH_SOURCE_DIR) + "/tests/imaging/data/" + name;
}

inline nlohmann::json fixture_manifest() {
  return nlohmann::json::parse(read_bytes(fixture_path("manifest.json")));
}

// "P6\n<w> <h>\n255\n" then the pixels: exactly what make_fixtures.py writes, nothing more.
inline imaging::RgbImage read_expected_ppm(const std::string& path) {
  const std::string bytes = read_bytes(path);
  std::istringstream header(bytes);
  std::string magic;
  size_t w = 0, h = 0, maxval = 0;
  header >> magic >> w >> h >> maxval;
  EXPECT_EQ(magic, "P6");
  EXPECT_EQ(maxval, 255u);
  const size_t offset = static_cast<size_t>(header.tellg()) + 1;
  imaging::RgbImage image(w, h);
  EXPECT_EQ(bytes.size(), offset + w * h * 3) << path;
  if (bytes.size() == offset + w * h * 3) {
    for (size_t i = 0; i < w * h * 3; ++i) image.pixels[i] = static_cast<uint8_t>(bytes[offset + i]);
  }
  return image;
}

// The largest per-sample difference between two images of the same size.
inline int max_abs_difference(const imaging::RgbImage& a, const imaging::RgbImage& b) {
  int worst = 0;
  for (size_t i = 0; i < a.pixels.size() && i < b.pixels.size(); ++i) {
    worst = std::max(worst, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  }
  return worst;
}

}  // namespace vitbench::testing
