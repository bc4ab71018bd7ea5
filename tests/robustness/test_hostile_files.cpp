// Hostile files: every one a user (or an attacker) can hand the suite is refused with its own
// clear error, never a crash, a hang, a huge allocation or undefined behaviour. Most of the
// per-reader cases live next to their reader (tests/core/test_safetensors.cpp, test_npy.cpp,
// test_config.cpp, tests/reports/test_report.cpp, tests/imaging/test_decode.cpp); this file adds
// the few those lack, and then runs the whole list through the real `vitbench` binary, where the
// contract is what a user sees: exit code 2, one line on stderr naming the file. Under the
// ASan+UBSan build the binary is instrumented too, so a leak or UB on any of these paths makes
// the child exit with something other than 2 and print a report: the table fails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/error.h"
#include "core/images.h"
#include "core/model_loader.h"
#include "core/npy.h"
#include "core/safetensors.h"
#include "golden/manifest.h"
#include "imaging/decode.h"
#include "imaging/encode.h"
#include "tests/cli/cli_runner.h"
#include "tests/error_contract.h"
#include "tests/file_bytes.h"

namespace vitbench::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string be32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * (3 - i))) & 0xff);
  return s;
}

// PNG's CRC-32 (ISO 3309, reflected 0xEDB88320), so a hand-made chunk passes the decoder's CRC
// check and reaches the check under test.
uint32_t crc32(const std::string& bytes) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

std::string png_chunk(const std::string& type, const std::string& body) {
  return be32(static_cast<uint32_t>(body.size())) + type + body + be32(crc32(type + body));
}

// An RGB PNG whose header claims width x height, with one tiny valid IDAT.
std::string png_claiming(uint32_t width, uint32_t height) {
  return std::string("\x89PNG\r\n\x1a\n", 8) +
         png_chunk("IHDR", be32(width) + be32(height) + std::string("\x08\x02\0\0\0", 5)) +
         png_chunk("IDAT", std::string("\x78\x9c\x03\0\0\0\0\x01", 8)) + png_chunk("IEND", "");
}

// A safetensors file with `header` as its JSON text, unpadded, then `data`.
std::string safetensors_raw(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

// A .npy (version 1.0) with the header dict given verbatim, padded as numpy pads it.
std::string npy_raw(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

// Splits a safetensors file into its header (parsed) and data section.
std::pair<json, std::string> split_safetensors(const std::string& bytes) {
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  return {json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
}

// The tensors of `header`/`data` laid out again in the order given, each with the byte range
// its (possibly edited) entry now needs: lets a test change one tensor's shape and bytes and
// still get a file whose every other property is valid.
std::string relayout_safetensors(const json& header, const std::string& data,
                                 const std::function<void(const std::string&, json&, std::string&)>& edit) {
  json out_header = json::object();
  std::string out_data;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      out_header[name] = entry;
      continue;
    }
    json e = entry;
    const size_t begin = e["data_offsets"][0], end = e["data_offsets"][1];
    std::string bytes = data.substr(begin, end - begin);
    edit(name, e, bytes);
    e["data_offsets"] = {out_data.size(), out_data.size() + bytes.size()};
    out_data += bytes;
    out_header[name] = e;
  }
  return safetensors_raw(out_header.dump(), out_data);
}

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// ---- What the readers' own tests lack -----------------------------------------------------------

class HostileLibrary : public ::testing::Test {
 protected:
  void SetUp() override {
    model_dir_ = dir_ / "model";
    fs::create_directories(model_dir_);
    core::save_model_folder({small_config(), core::generate_weights(small_config(), 3)},
                            model_dir_, core::NameScheme::Timm);
  }
  std::string safetensors() const { return model_dir_ + "/model.safetensors"; }

  TempDir dir_;
  std::string model_dir_;
};

TEST_F(HostileLibrary, RankZeroTensorIsAScalarThatNoModelTensorCanBe) {
  // safetensors allows shape [] (one element); the reader may take it, the loader must then
  // refuse it by name, since no ViT parameter is a scalar.
  const auto [header, data] = split_safetensors(read_bytes(safetensors()));
  write_bytes(safetensors(), relayout_safetensors(header, data, [](const std::string& name, json& e,
                                                             std::string& bytes) {
          if (name == "cls_token") {
            e["shape"] = json::array();
            bytes = bytes.substr(0, 4);
          }
        }));
  const core::SafetensorsFile st = core::SafetensorsFile::open(safetensors());
  const auto* entry = st.find("cls_token");
  ASSERT_NE(entry, nullptr);
  EXPECT_TRUE(entry->shape.empty());
  float value = 0;
  st.read_float32(*entry, &value);
  EXPECT_TRUE(std::isfinite(value));
  expect_message(error_of([&] { core::load_model_folder(model_dir_); }),
                 {"model.safetensors", "cls_token"});
}

TEST_F(HostileLibrary, RankZeroAndEmptyNpyInputsAreRefusedAsImages) {
  const std::string path = dir_ / "x.npy";
  write_bytes(path, npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", std::string(4, '\0')));
  const core::Tensor scalar = core::read_npy_float32(path);
  EXPECT_EQ(scalar.rank(), 0u);
  expect_message(error_of([&] { core::check_images(small_config(), scalar, path); }), {path});
  write_bytes(path, npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3, 8, 8), }", ""));
  const core::Tensor none = core::read_npy_float32(path);
  EXPECT_EQ(none.size(), 0u);
  expect_message(error_of([&] { core::check_images(small_config(), none, path); }), {path});
}

TEST_F(HostileLibrary, DeeplyNestedGoldenManifestIsACorruptedGolden) {
  const fs::path source = fs::path(VITBENCH_SOURCE_DIR) / "golden/cases/meanpool-noqkvbias-b1";
  const fs::path copy = dir_.path() / "case";
  fs::copy(source, copy);
  const std::string manifest = (copy / "manifest.json").string();
  write_bytes(manifest, "{\"format\": " + nested(100000) + "}");
  try {
    golden::load_case(copy.string());
    FAIL() << "a 100000-deep manifest was accepted";
  } catch (const golden::CorruptedGolden& e) {
    expect_message(e.what(), {manifest, "nested deeper"});
  }
}

TEST_F(HostileLibrary, GoldenManifestClaimingAnAbsurdInputShapeIsRefusedBeforeReading) {
  const fs::path source = fs::path(VITBENCH_SOURCE_DIR) / "golden/cases/meanpool-noqkvbias-b1";
  const fs::path copy = dir_.path() / "case";
  fs::copy(source, copy);
  const std::string manifest = (copy / "manifest.json").string();
  json m = json::parse(read_bytes(manifest));
  m["input"]["shape"] = {uint64_t(1) << 62, 3, 24, 24};
  write_bytes(manifest, m.dump(1));
  try {
    golden::load_case(copy.string());
    FAIL() << "an input of 2^62 images was accepted";
  } catch (const golden::CorruptedGolden& e) {
    expect_message(e.what(), {manifest, "input shape"});
  }
}

TEST_F(HostileLibrary, ImageClaimingTwoBillionPixelsPerSideIsRefusedBeforeAllocating) {
  // Width and height of 2^31 - 1: their product overflows 32 bits (and times 3 channels, 63
  // bits are close), so a careless size check could wrap around to a small allocation.
  expect_message(error_of([&] { imaging::decode_image(png_claiming(0x7fffffff, 0x7fffffff), "huge.png"); }),
                 {"huge.png", "2147483647x2147483647"});
  expect_message(error_of([&] { imaging::decode_image(png_claiming(0xffffffff, 1), "wide.png"); }),
                 {"wide.png"});
  expect_message(error_of([&] { imaging::decode_image(png_claiming(1, 0), "empty.png"); }),
                 {"empty.png"});
}

TEST_F(HostileLibrary, PngChunkTypesWithControlBytesStayOnOneLine) {
  // Found by tests/fuzz (fuzz_image): the chunk type was quoted raw, so a type holding "\n"
  // split the message. Both the truncation and the CRC messages quote it.
  const std::string header = std::string("\x89PNG\r\n\x1a\n", 8) +
                             png_chunk("IHDR", be32(2) + be32(2) + std::string("\x08\x02\0\0\0", 5));
  expect_message(error_of([&] { imaging::decode_image(header + be32(100) + "\n\r\n\n", "a.png"); }),
                 {"a.png", "truncated PNG"});
  expect_message(error_of([&] { imaging::decode_image(header + be32(0) + "\n\r\n\n" + be32(1), "b.png"); }),
                 {"b.png", "CRC mismatch"});
}

TEST_F(HostileLibrary, JpegHuffmanTableOfMoreThan256CodesIsRefusedBeforeStbReadsIt) {
  // Found by tests/fuzz (fuzz_image, the input is kept in its corpus): Debian's stb_image builds
  // a Huffman table from up to 16 x 255 code counts into arrays of 257, writing past them.
  const std::string jpeg =
      read_bytes(std::string(VITBENCH_SOURCE_DIR) + "/tests/fuzz/corpus/image/regress_jpeg_dht_over_256_codes");
  ASSERT_GT(jpeg.size(), 200u);
  expect_message(error_of([&] { imaging::decode_image(jpeg, "dht.jpg"); }),
                 {"dht.jpg", "Huffman table of 289 codes"});
}

TEST_F(HostileLibrary, JpegScanUsingAnUndefinedHuffmanTableIsRefusedBeforeStbReadsIt) {
  // Found by tests/fuzz (fuzz_image, the input is kept in its corpus): a progressive JPEG whose AC
  // scan names AC table 1, which no DHT defines; Debian's stb_image then decodes with tables
  // from uninitialised memory (UBSan: index -988 into a 256-entry array).
  const std::string jpeg = read_bytes(std::string(VITBENCH_SOURCE_DIR) +
                                 "/tests/fuzz/corpus/image/regress_jpeg_scan_uses_undefined_huffman_table");
  ASSERT_GT(jpeg.size(), 400u);
  expect_message(error_of([&] { imaging::decode_image(jpeg, "scan.jpg"); }),
                 {"scan.jpg", "AC Huffman table 1, which no DHT segment defines before it"});
}

TEST_F(HostileLibrary, JpegScanEndingMidBlockDecodesItsMissingDataAsZeros) {
  // Found by tests/fuzz (fuzz_image, the input is kept in its corpus): the scan's data ends at a
  // marker in the middle of a block, and Debian's stb_image then shifts the zero bytes it reads
  // past the marker by 32 or more (UBSan: shift exponent 32; imaging/stb_decoder.cpp). It decodes
  // as stb means it to: the 40 x 30 gray image, its missing data as zeros. Under the sanitizers
  // this fails if that shift is checked again; everywhere it checks that the image comes out
  // whole, gray and the same each time.
  const std::string jpeg = read_bytes(std::string(VITBENCH_SOURCE_DIR) +
                                      "/tests/fuzz/corpus/image/regress_jpeg_scan_ends_mid_block");
  ASSERT_GT(jpeg.size(), 300u);
  const imaging::RgbImage image = imaging::decode_image(jpeg, "mid_block.jpg");
  EXPECT_EQ(image.width, 40u);
  EXPECT_EQ(image.height, 30u);
  ASSERT_EQ(image.pixels.size(), 40u * 30u * 3u);
  for (size_t i = 0; i < image.pixels.size(); i += 3) {  // gray: R = G = B
    ASSERT_EQ(image.pixels[i], image.pixels[i + 1]) << "pixel " << i / 3;
    ASSERT_EQ(image.pixels[i], image.pixels[i + 2]) << "pixel " << i / 3;
  }
  EXPECT_EQ(imaging::decode_image(jpeg, "mid_block.jpg").pixels, image.pixels);
}

TEST_F(HostileLibrary, LabelsAndNamesWithControlCharactersStayOnOneLine) {
  // Found by tests/fuzz (fuzz_config): names from the file were quoted raw.
  const json base = core::config_to_json(small_config());
  json bad = base;
  bad["label2id"] = {{"ant\nbee", 0}};
  expect_message(error_of([&] { core::parse_config(bad, "c.json"); }), {"c.json", "\"ant\\nbee\""});
  bad = base;
  bad["hidden_act"] = "relu\r\n";
  expect_message(error_of([&] { core::parse_config(bad, "c.json"); }), {"c.json", "hidden_act"});
  bad = base;
  bad["vitbench_pooling"] = "max\n";
  expect_message(error_of([&] { core::parse_config(bad, "c.json"); }), {"c.json", "vitbench_pooling"});
  bad = base;
  bad["id2label"] = {{"0\n", "ant"}};
  bad.erase("label2id");
  bad.erase("num_labels");
  expect_message(error_of([&] { core::parse_config(bad, "c.json"); }), {"c.json", "id2label"});
}

// ---- The whole list through the real binary -----------------------------------------------------

// One hostile input: what to write, which command reads it, and what the one line must say.
struct Hostile {
  std::string name;
  // Writes the hostile file(s) into the case's folder (which holds a valid model folder
  // "model", a valid input "input.npy" and a valid report "base.json" beforehand).
  std::function<void(const TempDir&)> setup;
  std::vector<std::string> args;  // "{dir}" is replaced by the case's folder
  std::string names;              // the file the message must name (relative to the folder)
  std::string says;               // a part of the problem's description
  int exit_code = 2;
  bool verify = false;  // verify reports a corrupted golden on stdout (its table), not stderr
};

void PrintTo(const Hostile& h, std::ostream* os) { *os << h.name; }

std::string replace_dir(std::string s, const TempDir& dir) {
  const std::string key = "{dir}";
  for (size_t at; (at = s.find(key)) != std::string::npos;) s.replace(at, key.size(), dir.path().string());
  return s;
}

void write_safetensors_of(const TempDir& dir, const std::string& bytes) {
  write_bytes(dir / "model/model.safetensors", bytes);
}

void edit_config(const TempDir& dir, const std::function<void(json&)>& edit) {
  json c = json::parse(read_bytes(dir / "model/config.json"));
  edit(c);
  write_bytes(dir / "model/config.json", c.dump(1));
}

std::string one_tensor(const std::string& entry, size_t data_bytes) {
  return safetensors_raw("{\"t\":" + entry + "}", std::string(data_bytes, '\0'));
}

void copy_golden_case(const TempDir& dir) {
  fs::copy(fs::path(VITBENCH_SOURCE_DIR) / "golden/cases/meanpool-noqkvbias-b1", dir.path() / "case");
}

const std::vector<std::string> kInfer = {"infer", "--model", "{dir}/model", "--input",
                                         "{dir}/input.npy", "--output", "{dir}/out.npy"};
const std::vector<std::string> kAttention = {"attention", "--model", "{dir}/model", "--image",
                                             "{dir}/picture.png", "-o", "{dir}/map.png"};
const std::vector<std::string> kCompare = {"compare", "{dir}/base.json", "{dir}/new.json"};
const std::vector<std::string> kVerify = {"verify", "--golden", "{dir}/case", "--backend",
                                          "reference"};

std::vector<Hostile> hostile_inputs() {
  std::vector<Hostile> list;
  // safetensors
  list.push_back({"header_length_2_64_minus_1",
                  [](const TempDir& d) { write_safetensors_of(d, le64(UINT64_MAX) + "{}"); }, kInfer,
                  "model.safetensors", "header length 18446744073709551615"});
  list.push_back({"four_gigabyte_header_in_100_bytes",
                  [](const TempDir& d) {
                    write_safetensors_of(d, le64(uint64_t(4) << 30) + std::string(92, ' '));
                  },
                  kInfer, "model.safetensors", "header length 4294967296"});
  list.push_back({"offsets_that_overflow_when_added",
                  [](const TempDir& d) {
                    write_safetensors_of(d, one_tensor("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":"
                                                       "[18446744073709551608,18446744073709551612]}",
                                                       8));
                  },
                  kInfer, "model.safetensors", "reach past the end"});
  list.push_back({"shape_product_overflows_size_t",
                  [](const TempDir& d) {
                    write_safetensors_of(d, one_tensor("{\"dtype\":\"F32\",\"shape\":[4294967296,"
                                                       "4294967296,2],\"data_offsets\":[0,8]}",
                                                       8));
                  },
                  kInfer, "model.safetensors", "more elements than size_t"});
  list.push_back({"zero_dimension_tensor",
                  [](const TempDir& d) {
                    write_safetensors_of(
                        d, safetensors_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                           "\"t\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[4,4]}}",
                                           std::string(4, '\0')));
                  },
                  kInfer, "model.safetensors", "no elements"});
  list.push_back({"rank_zero_tensor",
                  [](const TempDir& d) {
                    const auto [header, data] = split_safetensors(read_bytes(d / "model/model.safetensors"));
                    write_safetensors_of(d, relayout_safetensors(header, data,
                                                                 [](const std::string& name, json& e,
                                                                    std::string& bytes) {
                                                                   if (name == "cls_token") {
                                                                     e["shape"] = json::array();
                                                                     bytes = bytes.substr(0, 4);
                                                                   }
                                                                 }));
                  },
                  kInfer, "model.safetensors", "cls_token"});
  list.push_back({"duplicate_tensor_names",
                  [](const TempDir& d) {
                    write_safetensors_of(
                        d, safetensors_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                                           std::string(8, '\0')));
                  },
                  kInfer, "model.safetensors", "duplicate tensor name \"a\""});
  list.push_back({"deeply_nested_safetensors_header",
                  [](const TempDir& d) {
                    write_safetensors_of(d, safetensors_raw("{\"a\":" + nested(100000) + "}", ""));
                  },
                  kInfer, "model.safetensors", "nested deeper"});
  // config.json
  list.push_back({"config_with_zero_heads",
                  [](const TempDir& d) { edit_config(d, [](json& c) { c["num_attention_heads"] = 0; }); },
                  kInfer, "config.json", "num_attention_heads"});
  list.push_back({"hidden_size_not_divisible_by_heads",
                  [](const TempDir& d) { edit_config(d, [](json& c) { c["num_attention_heads"] = 5; }); },
                  kInfer, "config.json", "not divisible by num_attention_heads 5"});
  list.push_back({"deeply_nested_config",
                  [](const TempDir& d) {
                    write_bytes(d / "model/config.json", "{\"hidden_size\": " + nested(100000) + "}");
                  },
                  kInfer, "config.json", "nested deeper"});
  // .npy input
  list.push_back({"npy_claiming_an_absurd_shape",
                  [](const TempDir& d) {
                    write_bytes(d / "input.npy", npy_raw("{'descr': '<f8', 'fortran_order': False, "
                                                   "'shape': (1099511627776, 3, 8, 8), }",
                                                   std::string(8, '\0')));
                  },
                  kInfer, "input.npy", "shape"});
  list.push_back({"npy_shape_product_overflows_size_t",
                  [](const TempDir& d) {
                    write_bytes(d / "input.npy", npy_raw("{'descr': '<f4', 'fortran_order': False, "
                                                   "'shape': (4294967296, 4294967296, 2, 2), }",
                                                   ""));
                  },
                  kInfer, "input.npy", "more elements than size_t"});
  list.push_back({"npy_rank_zero",
                  [](const TempDir& d) {
                    write_bytes(d / "input.npy",
                          npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", std::string(4, '\0')));
                  },
                  kInfer, "input.npy", "[N, C, H, W]"});
  list.push_back({"npy_with_zero_images",
                  [](const TempDir& d) {
                    write_bytes(d / "input.npy", npy_raw("{'descr': '<f4', 'fortran_order': False, "
                                                   "'shape': (0, 3, 8, 8), }",
                                                   ""));
                  },
                  kInfer, "input.npy", ""});
  list.push_back({"npy_with_a_nan_pixel",
                  [](const TempDir& d) {
                    core::Tensor images = core::generate_images(small_config(), 1, 5);
                    images[100] = NAN;
                    core::write_npy(d / "input.npy", images);
                  },
                  kInfer, "input.npy", "NaN"});
  // images
  list.push_back({"image_of_one_by_one_pixel_runs",
                  // Not hostile to the pipeline: ViTImageProcessor resizes any picture to the
                  // model's size, so a 1x1 image is valid input and must run (exit 0).
                  [](const TempDir& d) { write_bytes(d / "picture.png", imaging::encode_png(imaging::RgbImage(1, 1, 200))); },
                  kAttention, "", "", 0});
  list.push_back({"image_claiming_30000x30000_pixels",
                  [](const TempDir& d) { write_bytes(d / "picture.png", png_claiming(30000, 30000)); },
                  kAttention, "picture.png", "30000x30000"});
  list.push_back({"truncated_image",
                  [](const TempDir& d) {
                    const std::string png = imaging::encode_png(imaging::RgbImage(9, 7, 50));
                    write_bytes(d / "picture.png", png.substr(0, png.size() / 2));
                  },
                  kAttention, "picture.png", ""});
  // reports (what compare and the dashboard read)
  list.push_back({"report_with_nan_timings",
                  [](const TempDir& d) {
                    fs::copy_file(fs::path(VITBENCH_SOURCE_DIR) / "tests/reports/data/nan_timings.json",
                                  d.path() / "new.json");
                  },
                  kCompare, "new.json", "NaN"});
  list.push_back({"deeply_nested_report",
                  [](const TempDir& d) { write_bytes(d / "new.json", "{\"benchmarks\": " + nested(100000) + "}"); },
                  kCompare, "new.json", "nested deeper"});
  // golden cases
  list.push_back({"deeply_nested_golden_manifest",
                  [](const TempDir& d) {
                    copy_golden_case(d);
                    write_bytes(d / "case/manifest.json", "{\"format\": " + nested(100000) + "}");
                  },
                  kVerify, "case/manifest.json", "nested deeper", 2, true});
  list.push_back({"golden_npy_claiming_an_absurd_shape",
                  [](const TempDir& d) {
                    copy_golden_case(d);
                    write_bytes(d / "case/logits.npy", npy_raw("{'descr': '<f8', 'fortran_order': False, "
                                                         "'shape': (1099511627776,), }",
                                                         std::string(8, '\0')));
                  },
                  kVerify, "case/logits.npy", "", 2, true});
  return list;
}

class HostileThroughTheCli : public ::testing::TestWithParam<Hostile> {};

TEST_P(HostileThroughTheCli, ExitsTwoWithOneLineNamingTheFile) {
  const Hostile& h = GetParam();
  TempDir dir;
  fs::create_directories(dir.path() / "model");
  const core::Config c = small_config();
  core::save_model_folder({c, core::generate_weights(c, 3)}, dir / "model", core::NameScheme::Timm);
  core::write_npy(dir / "input.npy", core::generate_images(c, 2, 4));
  fs::copy_file(fs::path(VITBENCH_SOURCE_DIR) / "tests/reports/data/base.json", dir.path() / "base.json");
  h.setup(dir);

  std::vector<std::string> args;
  for (const std::string& a : h.args) args.push_back(replace_dir(a, dir));
  const CommandResult r = run_cli(args, dir);
  ASSERT_EQ(r.exit_code, h.exit_code) << "stdout:\n" << r.out << "stderr:\n" << r.err;
  if (h.exit_code == 0) {
    EXPECT_EQ(r.err, "");
    return;
  }
  const std::string file = (dir.path() / h.names).string();
  std::string line;
  if (h.verify) {
    // verify keeps going past a corrupted golden and lists it in its table; the error itself is
    // the one "CORRUPTED GOLDEN <file>: <problem>" line.
    EXPECT_EQ(r.err, "");
    for (const std::string& l : lines_of(r.out)) {
      if (l.rfind("CORRUPTED GOLDEN " + (dir.path() / "case").string(), 0) == 0) {
        EXPECT_EQ(line, "") << "more than one error line:\n" << r.out;
        line = l;
      }
    }
    ASSERT_NE(line, "") << "no CORRUPTED GOLDEN line:\n" << r.out;
  } else {
    ASSERT_EQ(lines_of(r.err).size(), 1u) << "one line on stderr:\n" << r.err;
    line = lines_of(r.err)[0];
    EXPECT_EQ(line.rfind("vitbench", 0), 0u) << line;
  }
  // Model files sit in a folder of their own under `dir`: the message must name the file itself.
  const std::string file_name = fs::path(file).filename().string();
  EXPECT_NE(line.find(file_name), std::string::npos) << "should name " << file_name << ": " << line;
  EXPECT_NE(line.find(h.says), std::string::npos) << "should say \"" << h.says << "\": " << line;
  // Nothing was written: a refused input leaves no output behind.
  EXPECT_FALSE(fs::exists(dir / "out.npy"));
  EXPECT_FALSE(fs::exists(dir / "map.png"));
}

INSTANTIATE_TEST_SUITE_P(All, HostileThroughTheCli, ::testing::ValuesIn(hostile_inputs()),
                         [](const ::testing::TestParamInfo<Hostile>& info) { return info.param.name; });

}  // namespace
}  // namespace vitbench::testing
