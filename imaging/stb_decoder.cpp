// The one copy of stb_image's implementation, with internal linkage so that no other copy
// (Debian's libstb.so, a test's) can clash with it. Only the formats we promise are compiled in:
// less code reachable from a stranger's file. The dimension cap mirrors kMaxImagePixels' side.
//
// A file of its own because the sanitizer builds compile it without UBSan's shift check
// (imaging/CMakeLists.txt). Debian's stb_image (2.27, a 2022 snapshot) lets its JPEG bit reader
// run into debt when a scan's data ends at a marker in the middle of a block: it consumes more
// bits than it holds (code_bits < 0), then shifts each zero byte it reads past the marker by
// 32 or more (stbi__grow_buffer_unsafe; found by tests/fuzz, regress_jpeg_scan_ends_mid_block;
// stb 2.28 checks the lengths instead). The shifted value is always that zero byte (only the
// `nomore` state reaches the debt), so the image decodes as stb means it to, missing data as
// zeros (as libjpeg also decodes such data, with its JWRN_HIT_MARKER warning). Every other check
// stays on for stb, and all of them for the code around it.
#include "imaging/stb_decoder.h"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#define STBI_NO_STDIO
#define STBI_MAX_DIMENSIONS (1 << 15)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#if !defined(__clang__)
// g++ 12 at -O3, inlining stb's reader into the calls below, takes the memory-backed context's
// unset callback fields for read ones (stbi__refill_buffer, which memory never reaches).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <stb_image.h>
#pragma GCC diagnostic pop

namespace vitbench::imaging::stb {

bool info(const unsigned char* data, int size, int* width, int* height) {
  int channels_in_file = 0;
  return stbi_info_from_memory(data, size, width, height, &channels_in_file) != 0;
}

bool is_16_bit(const unsigned char* data, int size) {
  return stbi_is_16_bit_from_memory(data, size) != 0;
}

unsigned char* load_rgb(const unsigned char* data, int size, int* width, int* height) {
  int channels_in_file = 0;
  return stbi_load_from_memory(data, size, width, height, &channels_in_file, 3);
}

void free_pixels(void* pixels) { stbi_image_free(pixels); }

const char* failure_reason() { return stbi_failure_reason(); }

}  // namespace vitbench::imaging::stb
