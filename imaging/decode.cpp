#include "imaging/decode.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include "core/error.h"
#include "imaging/stb_decoder.h"

namespace vitbench::imaging {
namespace {

using core::fail;

uint32_t be32(const unsigned char* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
uint32_t le32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint16_t le16(const unsigned char* p) { return uint16_t(p[0] | p[1] << 8); }

bool starts_with(std::string_view bytes, std::string_view prefix) {
  return bytes.size() >= prefix.size() && bytes.substr(0, prefix.size()) == prefix;
}

std::string hex_prefix(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < std::min<size_t>(bytes.size(), 8); ++i) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%s%02x", i ? " " : "", static_cast<unsigned char>(bytes[i]));
    out += buf;
  }
  return out;
}

// Refused from the header, before stb_image allocates anything.
void check_dimensions(uint64_t width, uint64_t height, const char* format, const std::string& where) {
  if (width == 0 || height == 0) {
    fail(where, std::string("corrupt ") + format + " (size " + std::to_string(width) + "x" +
                    std::to_string(height) + ")");
  }
  if (width * height > kMaxImagePixels || width > (1u << 15) || height > (1u << 15)) {
    fail(where, std::string(format) + " image is " + std::to_string(width) + "x" + std::to_string(height) +
                    ", more than the " + std::to_string(kMaxImagePixels) + " pixels (or 32768 per side) allowed");
  }
}

// ---- PNG: every chunk whole and its CRC right, IHDR first, IEND last --------------------------

uint32_t crc32(const unsigned char* data, size_t size) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

void check_png(std::string_view bytes, const std::string& where) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t pos = 8;
  bool first = true;
  for (;;) {
    if (pos + 8 > n) fail(where, "truncated PNG (ends before its IEND chunk)");
    const uint32_t length = be32(p + pos);
    const std::string type(bytes.substr(pos + 4, 4));
    // Quoted in messages, which must stay one line: a hostile type may hold any byte.
    std::string shown = type;
    for (char& ch : shown) {
      if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f) ch = '?';
    }
    if (length > 0x7fffffffu) fail(where, "corrupt PNG (chunk length " + std::to_string(length) + ")");
    if (pos + 12 + size_t(length) > n) {
      fail(where, "truncated PNG (chunk \"" + shown + "\" runs past the end of the file)");
    }
    if (crc32(p + pos + 4, 4 + size_t(length)) != be32(p + pos + 8 + length)) {
      fail(where, "corrupt PNG (CRC mismatch in chunk \"" + shown + "\")");
    }
    if (first) {
      if (type != "IHDR" || length != 13) fail(where, "corrupt PNG (no IHDR chunk first)");
      check_dimensions(be32(p + pos + 8), be32(p + pos + 12), "PNG", where);
      const unsigned bit_depth = p[pos + 16];
      if (bit_depth == 16) {
        fail(where, "16-bit PNG is not supported (8 bits per sample only; convert it first, "
                    "e.g. `convert in.png -depth 8 out.png`)");
      }
      first = false;
    }
    pos += 12 + size_t(length);
    if (type == "IEND") return;
  }
}

// ---- JPEG: segments and entropy-coded data, until the EOI marker ------------------------------
// stb_image decodes a JPEG cut short without complaint (missing data reads as zeros), so the end
// marker must be seen. Stray bytes between segments are skipped, as libjpeg does.

// Debian's stb_image (a 2022 snapshot) trusts a DHT table's 16 code counts: more than 256 codes
// in one table write past its fixed-size arrays (stbi__build_huffman; found by tests/fuzz, fixed
// upstream later). Each table must hold at most 256 codes and lie wholly inside its segment, so
// the tables stb reads are exactly the ones checked here. The tables defined so far are marked
// in `defined` ([class][id]; stb refuses classes above 1 and ids above 3 itself).
using HuffmanTables = bool[2][4];
void check_huffman_tables(const unsigned char* p, size_t length, HuffmanTables& defined,
                          const std::string& where) {
  size_t pos = 0;
  while (pos < length) {
    if (length - pos < 17) fail(where, "corrupt JPEG (Huffman table cut short)");
    size_t codes = 0;
    for (size_t i = 1; i <= 16; ++i) codes += p[pos + i];
    if (codes > 256) {
      fail(where, "corrupt JPEG (Huffman table of " + std::to_string(codes) + " codes, more than 256)");
    }
    if (length - pos - 17 < codes) fail(where, "corrupt JPEG (Huffman table cut short)");
    const unsigned table_class = p[pos] >> 4, id = p[pos] & 15;
    if (table_class <= 1 && id <= 3) defined[table_class][id] = true;
    pos += 17 + codes;
  }
}

// stb_image also decodes a scan with a Huffman table no DHT has defined, reading its tables from
// uninitialised memory (found by tests/fuzz: a symbol index of -988): every table a scan uses
// must have been defined before it. A scan whose spectrum starts at 0 decodes DC coefficients
// (DC table), one that ends above 0 AC coefficients (AC table); a baseline scan does both.
void check_scan_tables(const unsigned char* p, size_t length, const HuffmanTables& defined,
                       const std::string& where) {
  if (length < 1) fail(where, "corrupt JPEG (empty scan header)");
  const size_t components = p[0];
  if (length < 1 + 2 * components + 3) fail(where, "corrupt JPEG (scan header cut short)");
  const unsigned spectrum_start = p[1 + 2 * components], spectrum_end = p[2 + 2 * components];
  for (size_t c = 0; c < components; ++c) {
    const unsigned dc = p[2 + 2 * c] >> 4, ac = p[2 + 2 * c] & 15;
    const bool dc_missing = spectrum_start == 0 && (dc > 3 || !defined[0][dc]);
    const bool ac_missing = spectrum_end > 0 && (ac > 3 || !defined[1][ac]);
    if (dc_missing || ac_missing) {
      fail(where, std::string("corrupt JPEG (a scan uses ") + (dc_missing ? "DC" : "AC") +
                      " Huffman table " + std::to_string(dc_missing ? dc : ac) +
                      ", which no DHT segment defines before it)");
    }
  }
}

void check_jpeg(std::string_view bytes, const std::string& where) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  const std::string truncated = "truncated JPEG (no end-of-image marker)";
  size_t pos = 2;
  HuffmanTables defined = {};
  for (;;) {
    while (pos < n && p[pos] != 0xff) ++pos;
    while (pos < n && p[pos] == 0xff) ++pos;  // a marker may be preceded by fill bytes
    if (pos >= n) fail(where, truncated);
    const unsigned marker = p[pos++];
    if (marker == 0xd9) return;                                     // EOI
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;  // no length field
    if (pos + 2 > n) fail(where, truncated);
    const size_t length = size_t(p[pos]) << 8 | p[pos + 1];
    if (length < 2) fail(where, "corrupt JPEG (segment length " + std::to_string(length) + ")");
    if (pos + length > n) fail(where, truncated);
    const bool frame = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (frame && length >= 7) {  // SOFn: precision, height, width
      if (p[pos + 2] != 8) {
        fail(where, std::to_string(p[pos + 2]) + "-bit JPEG is not supported (8 bits per sample only)");
      }
      const uint64_t height = uint64_t(p[pos + 3]) << 8 | p[pos + 4];
      const uint64_t width = uint64_t(p[pos + 5]) << 8 | p[pos + 6];
      check_dimensions(width, height == 0 ? 1 : height, "JPEG", where);  // 0: given later (DNL)
    }
    if (marker == 0xc4) check_huffman_tables(p + pos + 2, length - 2, defined, where);  // DHT
    if (marker == 0xda) check_scan_tables(p + pos + 2, length - 2, defined, where);      // SOS
    pos += length;
    if (marker != 0xda) continue;  // SOS: entropy-coded data follows, up to the next marker
    for (;;) {
      if (pos + 1 >= n) fail(where, truncated);
      if (p[pos] != 0xff) {
        ++pos;
        continue;
      }
      const unsigned next = p[pos + 1];
      if (next == 0x00 || (next >= 0xd0 && next <= 0xd7)) {
        pos += 2;  // a stuffed 0xff byte, or a restart marker inside the scan
      } else if (next == 0xff) {
        ++pos;
      } else {
        break;
      }
    }
  }
}

// ---- BMP: uncompressed pixel data must fit in the file ---------------------------------------

void check_bmp(std::string_view bytes, const std::string& where) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  if (n < 26) fail(where, "truncated BMP (" + std::to_string(n) + " bytes, shorter than its header)");
  const uint32_t offset = le32(p + 10);
  const uint32_t header = le32(p + 14);
  int64_t width = 0, height = 0;
  unsigned bpp = 0;
  uint32_t compression = 0;
  if (header == 12) {  // OS/2 BITMAPCOREHEADER
    width = le16(p + 18);
    height = le16(p + 20);
    bpp = le16(p + 24);
  } else {
    if (header < 40 || n < 14 + 40) fail(where, "truncated or corrupt BMP header");
    width = static_cast<int32_t>(le32(p + 18));
    height = static_cast<int32_t>(le32(p + 22));
    bpp = le16(p + 28);
    compression = le32(p + 30);
  }
  if (width <= 0 || height == 0) {
    fail(where, "corrupt BMP (size " + std::to_string(width) + "x" + std::to_string(height) + ")");
  }
  if (height < 0) height = -height;  // top-down rows
  check_dimensions(uint64_t(width), uint64_t(height), "BMP", where);
  if (bpp == 0 || bpp > 32) fail(where, "corrupt BMP (" + std::to_string(bpp) + " bits per pixel)");
  // Only uncompressed layouts (BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS) have a known size; stb
  // refuses the run-length encoded ones itself.
  if (compression != 0 && compression != 3 && compression != 6) return;
  const uint64_t row = (uint64_t(width) * bpp + 31) / 32 * 4;
  if (uint64_t(offset) + row * uint64_t(height) > n) {
    fail(where, "truncated BMP (pixel data needs " + std::to_string(row * uint64_t(height)) +
                    " bytes from offset " + std::to_string(offset) + ", the file has " +
                    std::to_string(n) + ")");
  }
}

// ---- PPM/PGM: the header as stb_image reads it, then the data size -----------------------------

bool is_pnm_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

void check_pnm(std::string_view bytes, const std::string& where) {
  const size_t n = bytes.size();
  const size_t channels = bytes[1] == '6' ? 3 : 1;
  size_t pos = 2;
  auto skip_space_and_comments = [&] {
    for (;;) {
      while (pos < n && is_pnm_space(bytes[pos])) ++pos;
      if (pos >= n || bytes[pos] != '#') return;
      while (pos < n && bytes[pos] != '\n' && bytes[pos] != '\r') ++pos;
    }
  };
  // At most 9 digits: stb_image accumulates in an int and would overflow on more.
  auto number = [&](const char* what) {
    skip_space_and_comments();
    size_t value = 0, digits = 0;
    while (pos < n && bytes[pos] >= '0' && bytes[pos] <= '9') {
      if (++digits > 9) fail(where, std::string("corrupt PPM/PGM header (") + what + " too large)");
      value = value * 10 + size_t(bytes[pos++] - '0');
    }
    if (digits == 0) fail(where, std::string("corrupt or truncated PPM/PGM header (no ") + what + ")");
    return value;
  };
  const size_t width = number("width");
  const size_t height = number("height");
  const size_t maxval = number("maxval");
  check_dimensions(width, height, "PPM/PGM", where);
  if (maxval > 255) {
    fail(where, "16-bit PPM/PGM (maxval " + std::to_string(maxval) +
                    ") is not supported (8 bits per sample only; convert it first)");
  }
  if (maxval != 255) {
    fail(where, "PPM/PGM maxval " + std::to_string(maxval) + " is not supported (only 255)");
  }
  if (pos >= n) fail(where, "truncated PPM/PGM (no pixel data)");
  ++pos;  // the single whitespace character after maxval
  const size_t need = width * height * channels;
  if (n - pos < need) {
    fail(where, "truncated PPM/PGM (pixel data needs " + std::to_string(need) + " bytes, the file has " +
                    std::to_string(n - pos) + ")");
  }
}

}  // namespace

const char* to_string(ImageFormat format) {
  switch (format) {
    case ImageFormat::Png: return "PNG";
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::Bmp: return "BMP";
    case ImageFormat::Pnm: return "PPM/PGM";
  }
  return "?";
}

ImageFormat detect_image_format(std::string_view bytes, const std::string& where) {
  if (bytes.empty()) fail(where, "the image file is empty (0 bytes)");
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n")) return ImageFormat::Png;
  if (starts_with(bytes, "\xff\xd8\xff")) return ImageFormat::Jpeg;
  if (starts_with(bytes, "BM")) return ImageFormat::Bmp;
  if (bytes.size() >= 2 && bytes[0] == 'P' && bytes[1] >= '1' && bytes[1] <= '7') {
    if (bytes[1] == '5' || bytes[1] == '6') return ImageFormat::Pnm;
    fail(where, std::string("unsupported image format: P") + bytes[1] +
                    " portable anymap (only binary PPM P6 and PGM P5 are read)");
  }
  const char* other = nullptr;
  if (starts_with(bytes, "GIF8")) other = "GIF";
  if (starts_with(bytes, "II*") || starts_with(bytes, std::string_view("MM\0*", 4))) other = "TIFF";
  if (starts_with(bytes, "RIFF") && bytes.size() >= 12 && bytes.substr(8, 4) == "WEBP") other = "WebP";
  if (bytes.size() >= 12 && bytes.substr(4, 4) == "ftyp") other = "HEIF/AVIF";
  if (starts_with(bytes, "8BPS")) other = "PSD";
  if (starts_with(bytes, "qoif")) other = "QOI";
  if (starts_with(bytes, "#?RADIANCE") || starts_with(bytes, "#?RGBE")) other = "Radiance HDR";
  if (starts_with(bytes, "\xff\x0a") ||
      starts_with(bytes, std::string_view("\0\0\0\x0cJXL ", 8))) other = "JPEG XL";
  if (starts_with(bytes, std::string_view("\0\0\0\x0cjP  ", 8)) ||
      starts_with(bytes, "\xff\x4f\xff\x51")) other = "JPEG 2000";
  if (other) {
    fail(where, std::string("unsupported image format: ") + other +
                    " (supported: PNG, JPEG, BMP, binary PPM/PGM)");
  }
  fail(where, "not a PNG, JPEG, BMP or PPM/PGM image (first bytes: " + hex_prefix(bytes) + ")");
}

RgbImage decode_image(std::string_view bytes, const std::string& where) {
  const ImageFormat format = detect_image_format(bytes, where);
  switch (format) {
    case ImageFormat::Png: check_png(bytes, where); break;
    case ImageFormat::Jpeg: check_jpeg(bytes, where); break;
    case ImageFormat::Bmp: check_bmp(bytes, where); break;
    case ImageFormat::Pnm: check_pnm(bytes, where); break;
  }
  if (bytes.size() > size_t(INT32_MAX)) fail(where, "image file too large");
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const int size = static_cast<int>(bytes.size());
  const std::string name = to_string(format);

  int w = 0, h = 0;
  if (!stb::info(data, size, &w, &h)) {
    fail(where, "cannot read " + name + " header: " + stb::failure_reason() + " (corrupt file?)");
  }
  if (w <= 0 || h <= 0) fail(where, "corrupt " + name + " (size " + std::to_string(w) + "x" +
                                        std::to_string(h) + ")");
  if (size_t(w) * size_t(h) > kMaxImagePixels) {
    fail(where, name + " image is " + std::to_string(w) + "x" + std::to_string(h) +
                    ", more than the " + std::to_string(kMaxImagePixels) + " pixels allowed");
  }
  if (stb::is_16_bit(data, size)) {  // already refused above; belt and braces
    fail(where, "16-bit " + name + " is not supported (8 bits per sample only)");
  }
  // Asking for 3 channels makes stb expand gray (R = G = B) and drop alpha, as documented.
  std::unique_ptr<unsigned char, void (*)(void*)> decoded(stb::load_rgb(data, size, &w, &h),
                                                          stb::free_pixels);
  if (!decoded) {
    fail(where, "cannot decode " + name + " image: " + stb::failure_reason() + " (corrupt file?)");
  }
  RgbImage image;
  image.width = size_t(w);
  image.height = size_t(h);
  image.pixels.assign(decoded.get(), decoded.get() + image.width * image.height * 3);
  return image;
}

RgbImage read_image_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open image file: ") + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) fail(path, "cannot read the image file's size (not a regular file?)");
  if (static_cast<size_t>(size) > kMaxImageFileBytes) {
    fail(path, "image file is " + std::to_string(size) + " bytes, more than the " +
                   std::to_string(kMaxImageFileBytes) + " allowed");
  }
  in.seekg(0);
  std::string bytes(static_cast<size_t>(size), '\0');
  if (size > 0 && !in.read(bytes.data(), size)) fail(path, "cannot read image file");
  return decode_image(bytes, path);
}

}  // namespace vitbench::imaging
