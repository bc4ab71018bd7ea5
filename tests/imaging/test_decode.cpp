// Decoding: every promised format gives the right pixels (compared with files written by hand here,
// or with PIL's decoding of PIL-written fixtures), grayscale is expanded and alpha dropped, and
// every bad file (empty, truncated at any byte, corrupt, unsupported, 16-bit, absurdly large) is
// refused with one line naming the file and the problem.
#include <cstring>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"
#include "imaging/decode.h"
#include "imaging/encode.h"
#include "tests/imaging/fixtures.h"

namespace vitbench::testing {
namespace {

using imaging::RgbImage;

// A small picture where every sample differs, so a swapped channel, a flipped row or an
// off-by-one column shows.
RgbImage pattern(size_t w, size_t h) {
  RgbImage image(w, h);
  for (size_t y = 0; y < h; ++y) {
    for (size_t x = 0; x < w; ++x) {
      image.at(x, y)[0] = uint8_t(10 + 40 * x + y);
      image.at(x, y)[1] = uint8_t(200 - 30 * y + x);
      image.at(x, y)[2] = uint8_t(7 * x * y + 3);
    }
  }
  return image;
}

std::string ppm(const RgbImage& image) {
  std::string out = "P6\n# written by hand\n" + std::to_string(image.width) + " " +
                    std::to_string(image.height) + "\n255\n";
  out.append(image.pixels.begin(), image.pixels.end());
  return out;
}

std::string pgm(const std::vector<uint8_t>& gray, size_t w, size_t h) {
  std::string out = "P5 " + std::to_string(w) + " " + std::to_string(h) + " 255\n";
  out.append(gray.begin(), gray.end());
  return out;
}

void put32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = char(v >> (8 * i));
}
void put16(std::string& s, size_t at, uint16_t v) {
  s[at] = char(v);
  s[at + 1] = char(v >> 8);
}

// 24-bit BI_RGB BMP, rows bottom-up and padded to 4 bytes, samples in B, G, R order.
std::string bmp24(const RgbImage& image) {
  const size_t row = (image.width * 3 + 3) / 4 * 4;
  std::string s(54 + row * image.height, '\0');
  s[0] = 'B';
  s[1] = 'M';
  put32(s, 2, uint32_t(s.size()));
  put32(s, 10, 54);
  put32(s, 14, 40);
  put32(s, 18, uint32_t(image.width));
  put32(s, 22, uint32_t(image.height));
  put16(s, 26, 1);
  put16(s, 28, 24);
  for (size_t y = 0; y < image.height; ++y) {
    for (size_t x = 0; x < image.width; ++x) {
      const uint8_t* p = image.at(x, image.height - 1 - y);
      char* q = s.data() + 54 + y * row + x * 3;
      q[0] = char(p[2]);
      q[1] = char(p[1]);
      q[2] = char(p[0]);
    }
  }
  return s;
}

uint32_t crc32(const std::string& data) {
  uint32_t c = 0xffffffffu;
  for (unsigned char byte : data) {
    c ^= byte;
    for (int k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xffffffffu;
}

std::string be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

// A PNG chunk with a correct CRC, so that only what we mean to break is broken.
std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(uint32_t(data.size())) + type + data + be32(crc32(type + data));
}

void expect_same(const RgbImage& actual, const RgbImage& expected, const std::string& what) {
  ASSERT_EQ(actual.width, expected.width) << what;
  ASSERT_EQ(actual.height, expected.height) << what;
  EXPECT_EQ(actual.pixels, expected.pixels) << what;
}

// The contract for a bad file: core::Error, one line, naming the file, saying the problem.
void expect_refused(const std::string& bytes, const std::string& problem) {
  const std::string where = "bad/file.img";
  try {
    imaging::decode_image(bytes, where);
    ADD_FAILURE() << "accepted; expected refusal with \"" << problem << "\"";
  } catch (const core::Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(where + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(problem), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(Decode, HandWrittenPpmPgmAndBmp) {
  const RgbImage image = pattern(5, 3);
  expect_same(imaging::decode_image(ppm(image), "ppm"), image, "P6");
  expect_same(imaging::decode_image(bmp24(image), "bmp"), image, "BMP 24-bit");

  // Grayscale is expanded to R = G = B.
  const std::vector<uint8_t> gray = {0, 17, 34, 51, 68, 85, 102, 119, 136, 153, 170, 255};
  const RgbImage decoded = imaging::decode_image(pgm(gray, 4, 3), "pgm");
  ASSERT_EQ(decoded.width, 4u);
  ASSERT_EQ(decoded.height, 3u);
  for (size_t i = 0; i < gray.size(); ++i) {
    for (size_t c = 0; c < 3; ++c) EXPECT_EQ(decoded.pixels[i * 3 + c], gray[i]) << i;
  }
}

TEST(Decode, PngOfEveryChannelCountExpandsGrayAndDropsAlpha) {
  const RgbImage image = pattern(6, 4);
  expect_same(imaging::decode_image(imaging::encode_png(image), "png"), image, "RGB PNG");

  std::vector<uint8_t> rgba, gray, gray_alpha;
  for (size_t i = 0; i < 24; ++i) {
    rgba.insert(rgba.end(), image.pixels.begin() + long(i * 3), image.pixels.begin() + long(i * 3 + 3));
    rgba.push_back(uint8_t(i * 10));  // alpha varies, and must not matter
    gray.push_back(uint8_t(i * 11));
    gray_alpha.push_back(uint8_t(i * 11));
    gray_alpha.push_back(uint8_t(255 - i));
  }
  expect_same(imaging::decode_image(imaging::encode_png(6, 4, 4, rgba.data()), "rgba"), image,
              "RGBA PNG");
  for (const auto& [channels, data] : {std::pair{size_t(1), gray}, std::pair{size_t(2), gray_alpha}}) {
    const RgbImage d = imaging::decode_image(imaging::encode_png(6, 4, channels, data.data()), "g");
    for (size_t i = 0; i < 24; ++i) {
      for (size_t c = 0; c < 3; ++c) EXPECT_EQ(d.pixels[i * 3 + c], uint8_t(i * 11)) << channels;
    }
  }
}

// PIL-written files of every PNG colour type, and JPEGs, against PIL's Image.convert("RGB").
TEST(Decode, MatchesPilOnFixtures) {
  // The manifest must outlive the loop (a temporary's member would dangle).
  const nlohmann::json manifest = fixture_manifest();
  size_t cases = 0;
  for (const auto& item : manifest["decode"]) {
    ++cases;
    const std::string file = item["file"];
    const RgbImage actual = imaging::read_image_file(fixture_path(file));
    const RgbImage expected = read_expected_ppm(fixture_path(item["expected"]));
    ASSERT_EQ(actual.width, expected.width) << file;
    ASSERT_EQ(actual.height, expected.height) << file;
    if (!item["lossy"].get<bool>()) {
      EXPECT_EQ(actual.pixels, expected.pixels) << file;
      continue;
    }
    // JPEG: stb_image and libjpeg-turbo (PIL's) differ in IDCT rounding and in the rounding of
    // chroma upsampling and colour conversion, so a level or two of difference is expected;
    // measured at most 2 (mean 0.08) on the colour fixtures, 0 on the gray one. 4 leaves room for
    // another libjpeg-turbo build and still catches a wrong colour conversion, a swapped chroma
    // plane or a shifted block (tens of levels).
    const int worst = max_abs_difference(actual, expected);
    double mean = 0;
    for (size_t i = 0; i < actual.pixels.size(); ++i) {
      mean += std::abs(int(actual.pixels[i]) - int(expected.pixels[i]));
    }
    mean /= double(actual.pixels.size());
    EXPECT_LE(worst, 4) << file;
    EXPECT_LE(mean, 0.5) << file;  // most samples agree exactly
    std::printf("%s: max |stb - PIL| = %d levels, mean %.3f\n", file.c_str(), worst, mean);
  }
  EXPECT_EQ(cases, 8u);  // the manifest was read whole
}

TEST(Decode, OneByOnePixel) {
  const RgbImage one = pattern(1, 1);
  expect_same(imaging::decode_image(imaging::encode_png(one), "png"), one, "1x1 PNG");
  expect_same(imaging::decode_image(ppm(one), "ppm"), one, "1x1 PPM");
  expect_same(imaging::decode_image(bmp24(one), "bmp"), one, "1x1 BMP");
}

TEST(Decode, EmptyAndMissingFiles) {
  expect_refused("", "empty (0 bytes)");
  try {
    imaging::read_image_file("/nonexistent/picture.png");
    ADD_FAILURE() << "a missing file was accepted";
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/picture.png: cannot open"), std::string::npos)
        << e.what();
  }
}

// Every proper prefix of a valid file is refused: stb_image alone would decode many of them,
// filling the missing part with zeros.
TEST(Decode, EveryTruncationIsRefused) {
  const RgbImage image = pattern(7, 5);
  const std::vector<std::pair<std::string, std::string>> files = {
      {"PNG", imaging::encode_png(image)},
      {"PNG (PIL)", read_bytes(fixture_path("noise_37x23.png"))},
      {"JPEG", read_bytes(fixture_path("smooth_q90.jpg"))},
      {"progressive JPEG", read_bytes(fixture_path("smooth_progressive.jpg"))},
      {"BMP", bmp24(image)},
      {"PPM", ppm(image)},
  };
  for (const auto& [name, bytes] : files) {
    ASSERT_NO_THROW(imaging::decode_image(bytes, name)) << name;
    size_t refused = 0;
    for (size_t length = 0; length < bytes.size(); ++length) {
      try {
        imaging::decode_image(std::string_view(bytes).substr(0, length), "cut");
        ADD_FAILURE() << name << " cut to " << length << " of " << bytes.size() << " bytes was accepted";
      } catch (const core::Error& e) {
        ++refused;
        EXPECT_EQ(std::string(e.what()).rfind("cut: ", 0), 0u) << e.what();
      }
    }
    EXPECT_EQ(refused, bytes.size()) << name;
  }
  // The message says what happened, for the common case of a download cut short.
  const std::string png = imaging::encode_png(image);
  expect_refused(png.substr(0, png.size() / 2), "truncated PNG");
  const std::string jpeg = read_bytes(fixture_path("smooth_q90.jpg"));
  expect_refused(jpeg.substr(0, jpeg.size() / 2), "truncated JPEG");
  expect_refused(bmp24(image).substr(0, 80), "truncated BMP");
  expect_refused(ppm(image).substr(0, 40), "truncated PPM/PGM");
}

TEST(Decode, CorruptFilesAreRefused) {
  const RgbImage image = pattern(7, 5);
  const std::string png = imaging::encode_png(image);

  // A flipped bit anywhere in a PNG breaks a chunk's CRC.
  for (size_t at : {size_t(20), png.size() / 2, png.size() - 10}) {
    std::string bad = png;
    bad[at] = char(bad[at] ^ 0x10);
    EXPECT_THROW(imaging::decode_image(bad, "bad"), core::Error) << at;
  }
  std::string flipped = png;
  flipped[png.size() / 2] = char(flipped[png.size() / 2] ^ 0x01);
  expect_refused(flipped, "CRC mismatch");

  // Garbage compressed data with correct CRCs: stb_image's inflate refuses it.
  const std::string ihdr = std::string("\0\0\0\x07\0\0\0\x05\x08\x02\0\0\0", 13);
  std::string garbage(64, '\0');
  std::mt19937 rng(7);
  for (char& c : garbage) c = char(rng());
  expect_refused(std::string("\x89PNG\r\n\x1a\n") + png_chunk("IHDR", ihdr) + png_chunk("IDAT", garbage) +
                     png_chunk("IEND", ""),
                 "cannot decode PNG image");

  // A JPEG whose frame header claims height 0.
  std::string jpeg = read_bytes(fixture_path("smooth_q90.jpg"));
  const size_t sof = jpeg.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  jpeg[sof + 5] = 0;
  jpeg[sof + 6] = 0;
  expect_refused(jpeg, "JPEG");

  // A BMP with 7 bits per pixel.
  std::string bmp = bmp24(image);
  put16(bmp, 28, 7);
  expect_refused(bmp, "BMP");

  // PPM headers that cannot be right.
  expect_refused("P6\n0 5\n255\n", "corrupt PPM/PGM");
  expect_refused("P6\n99999999999 5\n255\n", "too large");
  expect_refused("P6\nx", "no width");
}

TEST(Decode, UnsupportedFormatsAreNamed) {
  expect_refused("GIF89a\x01\0\x01\0\0\0\0;", "unsupported image format: GIF");
  expect_refused(std::string("II*\0\x08\0\0\0", 8), "unsupported image format: TIFF");
  expect_refused(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16), "unsupported image format: WebP");
  expect_refused("P3\n1 1\n255\n0 0 0\n", "P3 portable anymap");
  expect_refused("P1\n1 1\n1\n", "P1 portable anymap");
  expect_refused("hello, I am a text file\n", "not a PNG, JPEG, BMP or PPM/PGM image");
}

TEST(Decode, SixteenBitIsRefusedAndSaysSo) {
  expect_refused(read_bytes(fixture_path("gray16.png")), "16-bit PNG is not supported");
  expect_refused(read_bytes(fixture_path("rgb16.png")), "16-bit PNG is not supported");
  std::string pgm16 = "P5\n2 1\n65535\n";
  pgm16.append(4, '\x7f');
  expect_refused(pgm16, "16-bit PPM/PGM");
  expect_refused("P5\n2 1\n15\n\x01\x02", "maxval 15 is not supported");
}

TEST(Decode, AbsurdDimensionsAreRefusedBeforeAllocating) {
  // A valid PNG header claiming 30000 x 30000 pixels (900 megapixels, 2.7 GB decoded).
  const std::string ihdr = be32(30000) + be32(30000) + std::string("\x08\x02\0\0\0", 5);
  expect_refused(std::string("\x89PNG\r\n\x1a\n") + png_chunk("IHDR", ihdr) +
                     png_chunk("IDAT", std::string("\x78\x9c\x03\0\0\0\0\x01", 8)) +
                     png_chunk("IEND", ""),
                 "PNG image is 30000x30000, more than the");
}

}  // namespace
}  // namespace vitbench::testing
