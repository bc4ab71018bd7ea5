// The calls imaging/decode.cpp makes into stb_image, whose implementation lives alone in
// stb_decoder.cpp so that it can be built with its own sanitizer flags (see there). Same
// meaning as the stbi_* functions of the same names; 8-bit RGB out.
#pragma once

namespace vitbench::imaging::stb {

// stbi_info_from_memory: width and height from the header, false if unreadable.
bool info(const unsigned char* data, int size, int* width, int* height);
// stbi_is_16_bit_from_memory.
bool is_16_bit(const unsigned char* data, int size);
// stbi_load_from_memory asking for 3 channels (gray expanded, alpha dropped); null on failure.
// Free with free_pixels.
unsigned char* load_rgb(const unsigned char* data, int size, int* width, int* height);
void free_pixels(void* pixels);
// stbi_failure_reason: why the last call on this thread failed.
const char* failure_reason();

}  // namespace vitbench::imaging::stb
