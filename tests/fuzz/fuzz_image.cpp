// Image decoding (PNG, JPEG, BMP, PPM/PGM through stb_image behind our structure checks) on
// arbitrary bytes. What decodes must be a whole, non-empty picture within the pixel cap.
#include <cstdint>

#include "imaging/decode.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vitbench;
  const std::string where = "fuzz/picture";
  fuzz::accepts(where, [&] {
    const imaging::RgbImage image = imaging::decode_image(fuzz::as_text(data, size), where);
    if (image.width == 0 || image.height == 0 ||
        image.width * image.height > imaging::kMaxImagePixels ||
        image.pixels.size() != image.width * image.height * 3) {
      fuzz::contract_broken("a decoded image has an impossible size",
                            std::to_string(image.width) + "x" + std::to_string(image.height));
    }
  });
  return 0;
}
