// The safetensors reader and writer: exact F16/BF16 conversion, round trips, and every kind of
// broken or hostile file refused with a one-line message naming the file and the tensor.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/safetensors.h"
#include "tests/core/io_test_util.h"
#include "tests/run_seed.h"

namespace vitbench::core {
namespace {

namespace fs = std::filesystem;
using namespace io_test;

std::string le64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

// A raw file: the header exactly as given (no padding), then the data.
std::string raw_file(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

std::string u16_bytes(const std::vector<uint16_t>& values) {
  std::string s;
  for (uint16_t v : values) {
    s.push_back(static_cast<char>(v & 0xff));
    s.push_back(static_cast<char>(v >> 8));
  }
  return s;
}

class Safetensors : public ::testing::Test {
 protected:
  // Writes `bytes` to model.safetensors and returns the refusal.
  std::string open_error(const std::string& bytes) {
    write_bytes(path_, bytes);
    return error_of([&] { SafetensorsFile::open(path_); });
  }
  // A one-tensor F32 file whose header entry is `entry` and whose data is `data_bytes` long.
  std::string one_tensor(const std::string& entry, size_t data_bytes) {
    return raw_file("{\"t\":" + entry + "}", std::string(data_bytes, '\0'));
  }

  TempDir dir_;
  std::string path_ = dir_.file("model.safetensors");
};

std::vector<float> read_all(const SafetensorsFile& f, const std::string& name) {
  const auto* e = f.find(name);
  if (!e) {
    ADD_FAILURE() << "no tensor " << name;
    return {};
  }
  size_t n = 1;
  for (size_t d : e->shape) n *= d;
  std::vector<float> out(n);
  f.read_float32(*e, out.data());
  return out;
}

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }

// ---- Reference conversions, written differently from the library's bit manipulation ----------

double half_value(uint16_t h) {
  const int sign = (h & 0x8000) ? -1 : 1;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa ? std::nan("") : sign * INFINITY;
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

// Round a finite float to `mantissa_bits` explicit bits with ties to even, by scaling to units
// of the target's last place and using nearbyint (the default rounding mode is to nearest-even).
float round_reference(float x, int mantissa_bits, int min_exponent, double max_finite) {
  if (std::isnan(x) || std::isinf(x) || x == 0) return x;
  int e = std::ilogb(x);
  if (e < min_exponent) e = min_exponent;  // subnormals of the target share one last place
  const double ulp = std::ldexp(1.0, e - mantissa_bits);
  const double r = std::nearbyint(static_cast<double>(x) / ulp) * ulp;
  if (std::fabs(r) > max_finite) return std::copysign(INFINITY, x);
  return static_cast<float>(std::copysign(r, x));
}
float half_reference(float x) { return round_reference(x, 10, -14, 65504.0); }
float bf16_reference(float x) {
  return round_reference(x, 7, -126, static_cast<double>(std::bit_cast<float>(0x7f7f0000u)));
}

Tensor tensor_of(const std::vector<float>& v) {
  Tensor t({v.size()});
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

std::vector<float> encode_and_read(const std::string& path, const std::vector<float>& values,
                                   StDtype dtype) {
  const Tensor t = tensor_of(values);
  write_safetensors(path, {{"x", &t}}, dtype);
  return read_all(SafetensorsFile::open(path), "x");
}

// ---- Round trips and conversion -----------------------------------------------------------------

TEST_F(Safetensors, F32RoundTripKeepsEveryBitShapeAndMetadata) {
  Tensor a({2, 3}), b({4}), c({1, 1, 5});
  for (size_t i = 0; i < a.size(); ++i) a[i] = 0.1f * static_cast<float>(i) - 0.3f;
  b[0] = -0.0f;
  b[1] = std::numeric_limits<float>::denorm_min();
  b[2] = INFINITY;
  b[3] = std::bit_cast<float>(0x7fc01234u);  // a NaN with a payload survives F32 untouched
  for (size_t i = 0; i < c.size(); ++i) c[i] = 1e30f * static_cast<float>(i + 1);
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"origin", "test"}};
  write_safetensors(path_, {{"a", &a}, {"b", &b}, {"c", &c}}, StDtype::F32, meta);

  const SafetensorsFile f = SafetensorsFile::open(path_);
  EXPECT_EQ(f.path(), path_);
  EXPECT_EQ(f.metadata(), meta);
  ASSERT_EQ(f.entries().size(), 3u);
  EXPECT_EQ(f.find("missing"), nullptr);
  for (const auto& [name, t] :
       std::vector<std::pair<std::string, const Tensor*>>{{"a", &a}, {"b", &b}, {"c", &c}}) {
    const auto* e = f.find(name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->dtype, StDtype::F32);
    EXPECT_EQ(e->shape, t->shape());
    EXPECT_EQ(e->end - e->begin, t->size() * 4);
    const std::vector<float> got = read_all(f, name);
    ASSERT_EQ(got.size(), t->size());
    EXPECT_EQ(std::memcmp(got.data(), t->data(), got.size() * 4), 0) << name;
  }
}

TEST_F(Safetensors, HeaderIsPaddedWithSpacesToEightBytes) {
  for (size_t n = 1; n <= 9; ++n) {  // several name lengths hit every padding amount
    Tensor t({1}, 1.0f);
    const std::string bytes = encode_safetensors({{std::string(n, 'w'), &t}}, StDtype::F32);
    uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(bytes[i]);
    EXPECT_EQ(length % 8, 0u);
    ASSERT_EQ(bytes.size(), 8 + length + 4);
    const std::string header = bytes.substr(8, length);
    const size_t close = header.find_last_of('}');
    EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos) << header;
    write_bytes(path_, bytes);
    EXPECT_EQ(read_all(SafetensorsFile::open(path_), std::string(n, 'w')),
              std::vector<float>{1.0f});
  }
}

TEST_F(Safetensors, F16KnownBitPatternsDecodeExactly) {
  const std::vector<std::pair<uint16_t, float>> cases = {
      {0x3C00, 1.0f},
      {0xC000, -2.0f},
      {0x7BFF, 65504.0f},                      // largest finite half
      {0x0001, std::ldexp(1.0f, -24)},         // smallest subnormal
      {0x03FF, 1023 * std::ldexp(1.0f, -24)},  // largest subnormal
      {0x0400, std::ldexp(1.0f, -14)},         // smallest normal
      {0x8001, -std::ldexp(1.0f, -24)},
      {0x3555, 0.333251953125f},
      {0x7C00, INFINITY},
      {0xFC00, -INFINITY},
      {0x0000, 0.0f},
      {0x8000, -0.0f},
  };
  std::vector<uint16_t> raw;
  for (const auto& c : cases) raw.push_back(c.first);
  raw.push_back(0x7E00);  // NaN
  raw.push_back(0xFE01);  // NaN with sign and payload
  write_bytes(path_, raw_file("{\"h\":{\"dtype\":\"F16\",\"shape\":[14],\"data_offsets\":[0,28]}}",
                              u16_bytes(raw)));
  const std::vector<float> got = read_all(SafetensorsFile::open(path_), "h");
  ASSERT_EQ(got.size(), 14u);
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(bits(got[i]), bits(cases[i].second)) << std::hex << "half 0x" << cases[i].first;
  }
  EXPECT_TRUE(std::isnan(got[12]));
  EXPECT_TRUE(std::isnan(got[13]));
}

TEST_F(Safetensors, BF16KnownBitPatternsDecodeExactly) {
  const std::vector<std::pair<uint16_t, uint32_t>> cases = {
      {0x3F80, bits(1.0f)},     {0xC000, bits(-2.0f)},
      {0x7F7F, 0x7F7F0000u},    {0x0001, 0x00010000u},  // a float subnormal
      {0x7F80, bits(INFINITY)}, {0xFF80, bits(-INFINITY)},
      {0x8000, bits(-0.0f)},    {0x3EAB, 0x3EAB0000u},
  };
  std::vector<uint16_t> raw;
  for (const auto& c : cases) raw.push_back(c.first);
  raw.push_back(0x7FC0);
  write_bytes(path_, raw_file("{\"b\":{\"dtype\":\"BF16\",\"shape\":[9],\"data_offsets\":[0,18]}}",
                              u16_bytes(raw)));
  const std::vector<float> got = read_all(SafetensorsFile::open(path_), "b");
  ASSERT_EQ(got.size(), 9u);
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(bits(got[i]), cases[i].second) << std::hex << "bf16 0x" << cases[i].first;
  }
  EXPECT_TRUE(std::isnan(got[8]));
}

TEST_F(Safetensors, EveryF16BitPatternDecodesToItsValue) {
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  write_bytes(
      path_, raw_file("{\"h\":{\"dtype\":\"F16\",\"shape\":[256,256],\"data_offsets\":[0,131072]}}",
                      u16_bytes(all)));
  const std::vector<float> got = read_all(SafetensorsFile::open(path_), "h");
  ASSERT_EQ(got.size(), all.size());
  size_t wrong = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const double want = half_value(static_cast<uint16_t>(i));
    const bool ok =
        std::isnan(want) ? std::isnan(got[i]) : bits(got[i]) == bits(static_cast<float>(want));
    if (!ok && wrong++ < 5) ADD_FAILURE() << std::hex << "half 0x" << i << " gave " << got[i];
  }
  EXPECT_EQ(wrong, 0u);
}

TEST_F(Safetensors, F16AndBF16EncodingRoundsToNearestEven) {
  const float one = 1.0f;
  const std::vector<std::pair<float, float>> half_cases = {
      {one + std::ldexp(1.0f, -11), 1.0f},                            // tie, down to even
      {one + 3 * std::ldexp(1.0f, -11), one + std::ldexp(1.0f, -9)},  // tie, up to even
      {std::nextafter(one + std::ldexp(1.0f, -11), 2.0f), one + std::ldexp(1.0f, -10)},
      {65519.0f, 65504.0f},
      {65520.0f, INFINITY},  // the tie above the largest half goes to even, which is inf
      {-1e6f, -INFINITY},
      {std::ldexp(1.0f, -25), 0.0f},  // subnormal tie, down to even zero
      {std::nextafter(std::ldexp(1.0f, -25), 1.0f), std::ldexp(1.0f, -24)},
      {3 * std::ldexp(1.0f, -25), std::ldexp(1.0f, -23)},  // subnormal tie, up to even
      {std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25), std::ldexp(1.0f, -14)},  // into normals
      {std::ldexp(1.0f, -26), 0.0f},
      {std::numeric_limits<float>::denorm_min(), 0.0f},
      {-0.0f, -0.0f},
      {INFINITY, INFINITY},
  };
  std::vector<float> in;
  for (const auto& c : half_cases) in.push_back(c.first);
  in.push_back(NAN);
  std::vector<float> got = encode_and_read(path_, in, StDtype::F16);
  for (size_t i = 0; i < half_cases.size(); ++i) {
    EXPECT_EQ(bits(got[i]), bits(half_cases[i].second)) << "F16 of " << half_cases[i].first;
  }
  EXPECT_TRUE(std::isnan(got.back()));

  const std::vector<std::pair<float, float>> bf16_cases = {
      {one + std::ldexp(1.0f, -8), 1.0f},
      {one + 3 * std::ldexp(1.0f, -8), one + std::ldexp(1.0f, -6)},
      {std::bit_cast<float>(0x7F7FFFFFu), INFINITY},  // FLT_MAX rounds past the largest bf16
      {std::bit_cast<float>(0x7F7F7FFFu), std::bit_cast<float>(0x7F7F0000u)},
      {std::bit_cast<float>(0x00018000u), std::bit_cast<float>(0x00020000u)},  // subnormal tie
      {-0.0f, -0.0f},
  };
  in.clear();
  for (const auto& c : bf16_cases) in.push_back(c.first);
  in.push_back(std::bit_cast<float>(0x7F800001u));  // a NaN whose payload sits in dropped bits
  got = encode_and_read(path_, in, StDtype::BF16);
  for (size_t i = 0; i < bf16_cases.size(); ++i) {
    EXPECT_EQ(bits(got[i]), bits(bf16_cases[i].second)) << "BF16 of " << bf16_cases[i].first;
  }
  EXPECT_TRUE(std::isnan(got.back()));
}

TEST_F(Safetensors, EncodingMatchesReferenceRoundingOnRandomFloats) {
  const auto seed = static_cast<uint32_t>(tests::run_seed());
  SCOPED_TRACE("VITBENCH_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<float> in;
  while (in.size() < 100000) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (!std::isnan(f)) in.push_back(f);
  }
  // Floats drawn by bit pattern rarely land in half's range: draw those explicitly too.
  std::uniform_real_distribution<float> near(-70000.0f, 70000.0f);
  std::uniform_int_distribution<int> exponent(-30, 16);
  for (int i = 0; i < 100000; ++i) in.push_back(std::ldexp(near(rng) / 70000.0f, exponent(rng)));

  const std::vector<float> half = encode_and_read(path_, in, StDtype::F16);
  const std::vector<float> bf16 = encode_and_read(path_, in, StDtype::BF16);
  size_t wrong = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const bool ok = bits(half[i]) == bits(half_reference(in[i])) &&
                    bits(bf16[i]) == bits(bf16_reference(in[i]));
    if (!ok && wrong++ < 5) {
      ADD_FAILURE() << std::hex << "input bits 0x" << bits(in[i]) << ": F16 0x" << bits(half[i])
                    << " (want 0x" << bits(half_reference(in[i])) << "), BF16 0x" << bits(bf16[i])
                    << " (want 0x" << bits(bf16_reference(in[i])) << ")";
    }
  }
  EXPECT_EQ(wrong, 0u);
}

TEST_F(Safetensors, EveryFiniteHalfSurvivesEncodeDecode) {
  std::vector<float> in;
  for (uint32_t h = 0; h < 65536; ++h) {
    if (((h >> 10) & 0x1f) != 0x1f)
      in.push_back(static_cast<float>(half_value(static_cast<uint16_t>(h))));
  }
  const std::vector<float> got = encode_and_read(path_, in, StDtype::F16);
  size_t wrong = 0;
  for (size_t i = 0; i < in.size(); ++i) wrong += bits(got[i]) != bits(in[i]);
  EXPECT_EQ(wrong, 0u);
}

TEST_F(Safetensors, TensorsMayComeInAnyOrder) {
  // "b" is named first and "a" holds the first bytes: neither order is promised by the format.
  std::string data;
  for (float f : {1.0f, 2.0f, 3.0f, 4.0f, 5.0f}) data.append(reinterpret_cast<const char*>(&f), 4);
  write_bytes(path_, raw_file("{\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[8,20]},"
                              "\"a\":{\"shape\":[2],\"data_offsets\":[0,8],\"dtype\":\"F32\"}}",
                              data));
  const SafetensorsFile f = SafetensorsFile::open(path_);
  EXPECT_EQ(read_all(f, "a"), (std::vector<float>{1, 2}));
  EXPECT_EQ(read_all(f, "b"), (std::vector<float>{3, 4, 5}));
}

TEST_F(Safetensors, UnalignedDataIsReadSafely) {
  // A 13-byte header puts the data at byte 21: loads must not assume alignment (UBSan checks).
  const std::string header = "{\"u\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  const std::string padded = header + std::string((8 - (8 + header.size()) % 8) % 8 + 1, ' ');
  ASSERT_NE((8 + padded.size()) % 4, 0u);
  std::string data;
  for (float f : {1.5f, -2.25f}) data.append(reinterpret_cast<const char*>(&f), 4);
  write_bytes(path_, raw_file(padded, data));
  EXPECT_EQ(read_all(SafetensorsFile::open(path_), "u"), (std::vector<float>{1.5f, -2.25f}));
}

TEST_F(Safetensors, EmptyHeaderIsAValidFileWithoutTensors) {
  write_bytes(path_, raw_file("{}      ", ""));
  EXPECT_TRUE(SafetensorsFile::open(path_).entries().empty());
}

// ---- Refusals -----------------------------------------------------------------------------------

TEST_F(Safetensors, RefusesFilesTooShortForTheLength) {
  expect_message(open_error(""), {path_, "0 bytes", "too short"});
  expect_message(open_error("abcde"), {path_, "5 bytes", "too short"});
}

TEST_F(Safetensors, RefusesAFileCutAtAnyPoint) {
  Tensor a({3}, 1.0f), b({2, 2}, 2.0f);
  const std::string whole = encode_safetensors({{"a", &a}, {"b", &b}}, StDtype::F16);
  for (size_t cut = 0; cut < whole.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut) + " of " + std::to_string(whole.size()));
    expect_message(open_error(whole.substr(0, cut)), {path_});
  }
  const size_t header_end = whole.size() - 14;
  expect_message(open_error(whole.substr(0, header_end - 1)), {path_, "exceeds", "truncated"});
  expect_message(open_error(whole.substr(0, whole.size() - 1)),
                 {path_, "tensor \"b\"", "reach past the end of the 13 data bytes"});
}

TEST_F(Safetensors, RefusesHeaderLongerThanTheFile) {
  expect_message(open_error(le64(1000) + "{}"),
                 {path_, "header length 1000", "exceeds the 2 bytes"});
}

TEST_F(Safetensors, RefusesHeaderLengthOfTwoToThe64MinusOne) {
  expect_message(open_error(le64(std::numeric_limits<uint64_t>::max()) + "{}"),
                 {path_, "header length 18446744073709551615", "exceeds"});
}

TEST_F(Safetensors, RefusesFourGigabyteHeaderInAHundredByteFile) {
  expect_message(open_error(le64(uint64_t(4) << 30) + std::string(92, ' ')),
                 {path_, "header length 4294967296", "exceeds the 92 bytes"});
}

TEST_F(Safetensors, RefusesHeaderOverOneHundredMegabytes) {
  // A sparse file: the claimed header really is in the file, yet nothing is read or written.
  const uint64_t length = (uint64_t(100) << 20) + 1;
  write_bytes(path_, le64(length));
  fs::resize_file(path_, 8 + length);
  expect_message(error_of([&] { SafetensorsFile::open(path_); }), {path_, "100 MB limit"});
}

TEST_F(Safetensors, RefusesMalformedJson) {
  expect_message(open_error(raw_file("{\"a\": {\"dtype\": ", "")), {path_, "malformed JSON"});
  expect_message(open_error(raw_file("not json", "")), {path_, "malformed JSON"});
}

TEST_F(Safetensors, RefusesDeeplyNestedJsonWithoutOverflowingTheStack) {
  const std::string deep = "{\"a\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  expect_message(open_error(raw_file(deep, "")), {path_, "nested deeper"});
}

TEST_F(Safetensors, RefusesHeaderThatIsNotAnObject) {
  expect_message(open_error(raw_file("[1, 2]", "")), {path_, "not a JSON object"});
  expect_message(open_error(raw_file("{\"t\": 5}", "")),
                 {path_, "tensor \"t\"", "must be an object"});
}

TEST_F(Safetensors, RefusesUnknownDtype) {
  for (const std::string dtype : {"F64", "I8", "f32", "BOOL"}) {
    expect_message(open_error(one_tensor(
                       "{\"dtype\":\"" + dtype + "\",\"shape\":[2],\"data_offsets\":[0,8]}", 8)),
                   {path_, "tensor \"t\"", "unknown dtype \"" + dtype + "\""});
  }
  expect_message(open_error(one_tensor("{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}", 8)),
                 {path_, "tensor \"t\"", "dtype must be a string"});
}

TEST_F(Safetensors, MessagesStayOneLineWhateverTheNames) {
  const std::string message = open_error(
      raw_file("{\"evil\\nname\":{\"dtype\":\"F64\\r\",\"shape\":[1],\"data_offsets\":[0,8]}}",
               std::string(8, '\0')));
  expect_message(message, {path_, "tensor \"evil\\nname\"", "unknown dtype \"F64\\r\""});
  const std::string long_name(100000, 'n');
  const std::string long_message = open_error(raw_file(
      "{\"" + long_name + "\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}", "x"));
  expect_message(long_message, {path_, "nnn...", "unknown dtype"});
  EXPECT_LT(long_message.size(), 400u);
}

TEST_F(Safetensors, RefusesMissingOrExtraFields) {
  expect_message(open_error(one_tensor("{\"shape\":[2],\"data_offsets\":[0,8]}", 8)),
                 {path_, "tensor \"t\"", "missing field \"dtype\""});
  expect_message(open_error(one_tensor("{\"dtype\":\"F32\",\"data_offsets\":[0,8]}", 8)),
                 {path_, "tensor \"t\"", "missing field \"shape\""});
  expect_message(open_error(one_tensor("{\"dtype\":\"F32\",\"shape\":[2]}", 8)),
                 {path_, "tensor \"t\"", "missing field \"data_offsets\""});
  expect_message(
      open_error(one_tensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}", 8)),
      {path_, "tensor \"t\"", "unexpected field \"x\""});
}

TEST_F(Safetensors, RefusesBadShapes) {
  for (const std::string shape : {"[-2]", "[2.5]", "[\"2\"]", "[[2]]", "18446744073709551616"}) {
    expect_message(open_error(one_tensor(
                       "{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[0,8]}", 8)),
                   {path_, "tensor \"t\"", "shape"});
  }
}

TEST_F(Safetensors, RefusesShapeWhoseProductOverflows) {
  expect_message(
      open_error(one_tensor(
          "{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,2],\"data_offsets\":[0,8]}", 8)),
      {path_, "tensor \"t\"", "[4294967296, 4294967296, 2]", "more elements than size_t"});
  // 2^62 elements fit size_t, but their 2^64 bytes do not.
  expect_message(
      open_error(one_tensor(
          "{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}", 8)),
      {path_, "tensor \"t\"", "more bytes than size_t"});
}

TEST_F(Safetensors, RefusesZeroElementTensors) {
  write_bytes(path_, raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                              "\"t\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[4,4]}}",
                              std::string(4, '\0')));
  expect_message(error_of([&] { SafetensorsFile::open(path_); }),
                 {path_, "tensor \"t\"", "[3, 0]", "no elements"});
}

TEST_F(Safetensors, RefusesByteSizeThatDisagreesWithShape) {
  write_bytes(path_, raw_file("{\"blocks.0.attn.qkv.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],"
                              "\"data_offsets\":[0,100]}}",
                              std::string(100, '\0')));
  expect_message(error_of([&] { SafetensorsFile::open(path_); }),
                 {path_ + ": tensor \"blocks.0.attn.qkv.weight\": data_offsets [0, 100] hold 100 "
                          "bytes but shape [3, 4] of F32 needs 48"});
  expect_message(
      open_error(one_tensor("{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,8]}", 8)),
      {path_, "tensor \"t\"", "hold 8 bytes but shape [2] of BF16 needs 4"});
}

TEST_F(Safetensors, RefusesOffsetsOutOfRange) {
  expect_message(
      open_error(one_tensor("{\"dtype\":\"F32\",\"shape\":[50],\"data_offsets\":[0,200]}", 8)),
      {path_, "tensor \"t\"", "[0, 200] reach past the end of the 8 data bytes"});
  expect_message(
      open_error(one_tensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}", 8)),
      {path_, "tensor \"t\"", "[8, 0] end before they begin"});
  for (const std::string offsets : {"[0]", "[0,8,9]", "[-1,8]", "[0,8.0]", "\"0,8\""}) {
    expect_message(open_error(one_tensor(
                       "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" + offsets + "}", 8)),
                   {path_, "tensor \"t\"", "data_offsets must be [begin, end]"});
  }
}

TEST_F(Safetensors, RefusesOffsetsWhoseSumWouldOverflow) {
  // Added to the header position these would wrap around to small, valid-looking addresses.
  expect_message(open_error(one_tensor(
                     "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551608,"
                     "18446744073709551612]}",
                     8)),
                 {path_, "tensor \"t\"", "reach past the end"});
  expect_message(open_error(one_tensor(
                     "{\"dtype\":\"F32\",\"shape\":[4611686018427387903],\"data_offsets\":[0,"
                     "18446744073709551612]}",
                     8)),
                 {path_, "tensor \"t\"", "reach past the end"});
  expect_message(
      open_error(one_tensor(
          "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551624]}", 8)),
      {path_, "tensor \"t\"", "data_offsets must be [begin, end]"});
}

TEST_F(Safetensors, RefusesOverlappingTensors) {
  write_bytes(path_, raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                              std::string(12, '\0')));
  expect_message(error_of([&] { SafetensorsFile::open(path_); }),
                 {path_, "tensor \"b\"", "[4, 12] overlap tensor \"a\""});
  // Two tensors on the very same bytes are an overlap too.
  write_bytes(path_, raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                              std::string(8, '\0')));
  expect_message(error_of([&] { SafetensorsFile::open(path_); }), {path_, "overlap tensor"});
}

TEST_F(Safetensors, RefusesDataBytesNoTensorCovers) {
  write_bytes(path_, raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                              std::string(12, '\0')));
  expect_message(error_of([&] { SafetensorsFile::open(path_); }),
                 {path_, "data bytes [4, 8) belong to no tensor"});
  expect_message(
      open_error(one_tensor("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}", 8)),
      {path_, "data bytes [0, 4) belong to no tensor"});
  expect_message(
      open_error(one_tensor("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 9)),
      {path_, "data bytes [4, 9) belong to no tensor"});
  expect_message(open_error(raw_file("{}", "x")), {path_, "data bytes [0, 1) belong to no tensor"});
}

TEST_F(Safetensors, RefusesDuplicateNames) {
  write_bytes(path_, raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                              std::string(8, '\0')));
  expect_message(error_of([&] { SafetensorsFile::open(path_); }),
                 {path_, "duplicate tensor name \"a\""});
  expect_message(
      open_error(one_tensor(
          "{\"dtype\":\"F16\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8)),
      {path_, "tensor \"t\"", "duplicate field \"dtype\""});
}

TEST_F(Safetensors, ChecksMetadata) {
  expect_message(open_error(raw_file("{\"__metadata__\":{\"format\":1}}", "")),
                 {path_, "__metadata__", "\"format\"", "must be a string"});
  expect_message(open_error(raw_file("{\"__metadata__\":[\"pt\"]}", "")),
                 {path_, "__metadata__ must be an object"});
  expect_message(open_error(raw_file("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", "")),
                 {path_, "duplicate __metadata__ key \"a\""});
}

TEST_F(Safetensors, RefusesMissingFilesAndFolders) {
  expect_message(error_of([&] { SafetensorsFile::open(dir_.file("absent.safetensors")); }),
                 {dir_.file("absent.safetensors"), "cannot open"});
  expect_message(error_of([&] { SafetensorsFile::open(dir_.path()); }),
                 {dir_.path(), "not a regular file"});
}

TEST_F(Safetensors, ReadRefusesAnEntryFromAnotherFile) {
  Tensor small({1}, 1.0f), large({64}, 1.0f);
  write_safetensors(path_, {{"x", &small}}, StDtype::F32);
  const std::string other = dir_.file("other.safetensors");
  write_safetensors(other, {{"x", &large}}, StDtype::F32);
  const SafetensorsFile f = SafetensorsFile::open(path_);
  const SafetensorsFile g = SafetensorsFile::open(other);
  std::vector<float> out(64);
  expect_message(error_of([&] { f.read_float32(*g.find("x"), out.data()); }),
                 {path_, "tensor \"x\"", "not a tensor of this file"});
}

TEST_F(Safetensors, EncoderRefusesWhatNoReaderWouldAccept) {
  Tensor t({2}, 1.0f), empty({0});
  expect_message(error_of([&] {
                   encode_safetensors({{"a", &t}, {"a", &t}}, StDtype::F32);
                 }),
                 {"tensor \"a\"", "given twice"});
  expect_message(error_of([&] {
                   encode_safetensors({{"e", &empty}}, StDtype::F32);
                 }),
                 {"tensor \"e\"", "no elements"});
  expect_message(error_of([&] {
                   encode_safetensors({{"n", nullptr}}, StDtype::F32);
                 }),
                 {"tensor \"n\"", "no tensor"});
  expect_message(error_of([&] {
                   write_safetensors(dir_.file("no/such/x.safetensors"), {{"a", &t}}, StDtype::F32);
                 }),
                 {"does not exist"});
}

// An independent reader (Python's json and numpy) agrees with what we write, and numpy's own
// float32 -> float16 conversion agrees with our F16 rounding.
TEST_F(Safetensors, PythonReadsOurFiles) {
  Tensor t({3, 7});
  // Integers of up to 17 bits, scaled by powers of two: exact in float32 in both languages, and
  // most need rounding in F16 and BF16 (some land among F16's subnormals).
  for (size_t i = 0; i < t.size(); ++i) {
    const long v = static_cast<long>((i * 12345 + 678) % 100003) - 50000;
    t[i] = std::ldexp(static_cast<float>(v), static_cast<int>(i % 9) - 20);
  }
  for (const StDtype dtype : {StDtype::F32, StDtype::F16, StDtype::BF16}) {
    write_safetensors(dir_.file(std::string(to_string(dtype)) + ".safetensors"), {{"w", &t}}, dtype,
                      {{"format", "pt"}});
  }
  const std::string script = dir_.file("check.py");
  write_bytes(script, std::string(kPythonPrelude) + R"(import json, struct
d = sys.argv[1]
x = np.array([np.ldexp(np.float32((i * 12345 + 678) % 100003 - 50000), i % 9 - 20)
              for i in range(21)], dtype=np.float32).reshape(3, 7)
want = {'F32': x, 'F16': x.astype(np.float16).astype(np.float32), 'BF16': None}
for dt in ('F32', 'F16', 'BF16'):
    raw = open(f'{d}/{dt}.safetensors', 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    assert n % 8 == 0, n
    header = json.loads(raw[8:8 + n])
    assert header['__metadata__'] == {'format': 'pt'}, header
    e = header['w']
    assert e['dtype'] == dt and e['shape'] == [3, 7], e
    b, end = e['data_offsets']
    data = raw[8 + n + b:8 + n + end]
    assert 8 + n + end == len(raw)
    if dt == 'F32':
        got = np.frombuffer(data, '<f4')
    elif dt == 'F16':
        got = np.frombuffer(data, '<f2').astype(np.float32)
    else:
        got = (np.frombuffer(data, '<u2').astype(np.uint32) << 16).view(np.float32)
        # bf16 keeps 8 significant bits: within half an ulp, 2^-8 relative.
        assert np.all(np.abs(got - x.ravel()) <= np.abs(x.ravel()) * 2.0**-8), (got, x)
        continue
    assert np.array_equal(got.reshape(3, 7), want[dt]), (dt, got, want[dt])
)");
  const int status = run_python(script, dir_.path());
  if (status == 77) GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  EXPECT_EQ(status, 0) << script;
}

}  // namespace
}  // namespace vitbench::core
