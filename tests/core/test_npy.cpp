// The .npy reader and writer: round trips at every rank, the header dialects numpy writes, files
// exchanged with numpy itself, and every malformed or hostile file refused by name.
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
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/npy.h"
#include "tests/core/io_test_util.h"

namespace vitbench::core {
namespace {

namespace fs = std::filesystem;
using namespace io_test;

// A .npy file with the header dict given verbatim (padded as numpy pads it) and raw data.
std::string npy_file(const std::string& dict, const std::string& data, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  for (size_t k = 0; k < prefix - 8; ++k)
    out.push_back(static_cast<char>((header.size() >> (8 * k)) & 0xff));
  return out + header + data;
}

template <typename T>
std::string values_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

class Npy : public ::testing::Test {
 protected:
  std::string read_error(const std::string& bytes) {
    write_bytes(path_, bytes);
    return error_of([&] { read_npy(path_); });
  }
  TempDir dir_;
  std::string path_ = dir_.file("input.npy");
};

template <typename T>
BasicTensor<T> numbered(const Shape& shape) {
  BasicTensor<T> t(shape);
  for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<T>(0.1 * static_cast<double>(i) - 1.7);
  return t;
}

template <typename A, typename B>
bool same_bits(const A* a, const B* b, size_t n) {
  static_assert(sizeof(A) == sizeof(B));
  return n == 0 || std::memcmp(a, b, n * sizeof(A)) == 0;
}

// ---- Round trips --------------------------------------------------------------------------------

TEST_F(Npy, Float32RoundTripsAtEveryRank) {
  for (const Shape& shape : std::vector<Shape>{{}, {5}, {2, 3}, {2, 3, 4, 5}, {0, 3}, {1, 1, 1}}) {
    SCOPED_TRACE(shape_to_string(shape));
    Tensor t = numbered<float>(shape);
    if (t.size() > 2) {
      t[0] = -0.0f;
      t[1] = INFINITY;
      t[2] = std::bit_cast<float>(0x7fc00123u);
    }
    write_npy(path_, t);
    const NpyArray a = read_npy(path_);
    EXPECT_EQ(a.dtype, NpyDtype::Float32);
    EXPECT_EQ(a.values.shape(), shape);
    const TensorD want = convert<double>(t);  // float32 -> float64 is exact
    for (size_t i = 0; i < t.size(); ++i) {
      EXPECT_TRUE(std::bit_cast<uint64_t>(a.values[i]) == std::bit_cast<uint64_t>(want[i]) ||
                  (std::isnan(a.values[i]) && std::isnan(want[i])))
          << i;
    }
    const Tensor f = read_npy_float32(path_);
    EXPECT_EQ(f.shape(), shape);
    EXPECT_TRUE(same_bits(f.data(), t.data(), t.size()));
  }
}

TEST_F(Npy, Float64RoundTripsAndRoundsToFloat32OnRequest) {
  const TensorD t = numbered<double>({3, 4});
  write_npy(path_, t);
  const NpyArray a = read_npy(path_);
  EXPECT_EQ(a.dtype, NpyDtype::Float64);
  EXPECT_EQ(a.values.shape(), t.shape());
  EXPECT_TRUE(same_bits(a.values.data(), t.data(), t.size()));
  const Tensor f = read_npy_float32(path_);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_EQ(f[i], static_cast<float>(t[i])) << i;
}

TEST_F(Npy, WrittenHeaderIsWhatNumpyWrites) {
  const std::string bytes = encode_npy(numbered<float>({2, 3}));
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t header_length = static_cast<unsigned char>(bytes[8]) |
                               (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
  EXPECT_EQ((10 + header_length) % 64, 0u);  // numpy aligns data to 64 bytes
  const std::string header = bytes.substr(10, header_length);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(header.substr(0, header.find('}') + 1),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  EXPECT_EQ(bytes.size(), 10 + header_length + 6 * 4);

  const std::string one = encode_npy(numbered<double>({5}));
  EXPECT_NE(one.find("'descr': '<f8'"), std::string::npos);
  EXPECT_NE(one.find("'shape': (5,)"), std::string::npos);
  EXPECT_NE(encode_npy(TensorD(Shape{})).find("'shape': ()"), std::string::npos);
}

TEST_F(Npy, ReadsEveryHeaderDialect) {
  const std::vector<float> v = {1.5f, -2.0f, 3.25f, 0.5f, 8.0f, -0.125f};
  const std::string data = values_bytes(v);
  const std::vector<std::string> dicts = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
      "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",  // any order, no trailing comma
      "{'fortran_order':False,'descr':'<f4','shape':(2,3,)}",       // no spaces, tuple comma
      "{ \"descr\" : \"<f4\" , \"fortran_order\" : False , \"shape\" : ( 2 , 3 ) , }",
  };
  for (const std::string& dict : dicts) {
    for (int major : {1, 2, 3}) {
      SCOPED_TRACE(dict + " v" + std::to_string(major));
      write_bytes(path_, npy_file(dict, data, major));
      const Tensor t = read_npy_float32(path_);
      EXPECT_EQ(t.shape(), (Shape{2, 3}));
      EXPECT_TRUE(same_bits(t.data(), v.data(), v.size()));
    }
  }
}

// ---- Refusals -----------------------------------------------------------------------------------

TEST_F(Npy, RefusesBadMagic) {
  const std::string good = encode_npy(numbered<float>({2}));
  std::string bad = good;
  bad[1] = 'M';
  expect_message(read_error(bad), {path_, "bad magic"});
  expect_message(read_error("PK\x03\x04 not npy at all"), {path_, "bad magic"});
}

TEST_F(Npy, RefusesAFileCutInsideItsHeader) {
  const std::string good = encode_npy(numbered<float>({2, 2}));
  const size_t data_start = good.size() - 16;
  for (size_t cut = 0; cut < data_start; ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    expect_message(read_error(good.substr(0, cut)), {path_});
  }
  expect_message(read_error(good.substr(0, 9)), {path_, "too short"});
  expect_message(read_error(good.substr(0, 40)), {path_, "runs past the end of the 40-byte file"});
}

TEST_F(Npy, RefusesUnsupportedVersions) {
  std::string bytes = encode_npy(numbered<float>({2}));
  bytes[6] = 4;
  expect_message(read_error(bytes), {path_, "unsupported .npy format version 4.0"});
  bytes[6] = 1;
  bytes[7] = 1;
  expect_message(read_error(bytes), {path_, "version 1.1"});
}

TEST_F(Npy, RefusesOtherDtypes) {
  for (const std::string descr : {"|u1", "<i4", "<f2", "<c8", "|b1", "=f4", "<f16"}) {
    expect_message(
        read_error(npy_file("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (1,), }",
                            std::string(4, '\0'))),
        {path_, "dtype '" + descr + "' is not float32 or float64"});
  }
  expect_message(
      read_error(npy_file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
                          std::string(4, '\0'))),
      {path_, "is not float32 or float64"});
}

TEST_F(Npy, RefusesBigEndianData) {
  for (const std::string descr : {">f4", ">f8"}) {
    expect_message(
        read_error(npy_file("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (1,), }",
                            std::string(8, '\0'))),
        {path_, "dtype '" + descr + "' is not float32 or float64", "big-endian"});
  }
}

TEST_F(Npy, RefusesFortranOrder) {
  expect_message(read_error(npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                                     std::string(16, '\0'))),
                 {path_, "Fortran order is not supported"});
}

TEST_F(Npy, ReadsAnyRankBecauseRankIsTheCallersBusiness) {
  write_bytes(path_,
              npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 2), }",
                       values_bytes(std::vector<double>{1.0, 2.0})));
  EXPECT_EQ(read_npy(path_).values.shape(), (Shape{1, 1, 1, 1, 1, 2}));
}

TEST_F(Npy, RefusesDataSizeThatDisagreesWithTheShape) {
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  expect_message(read_error(npy_file(dict, std::string(23, '\0'))),
                 {path_, "data is 23 bytes but shape [2, 3] of float32 needs 24"});
  expect_message(read_error(npy_file(dict, std::string(25, '\0'))),
                 {path_, "data is 25 bytes but shape [2, 3] of float32 needs 24"});
  expect_message(read_error(npy_file(dict, "")), {path_, "data is 0 bytes"});
}

TEST_F(Npy, RefusesAbsurdShapesBeforeAllocating) {
  // 2^40 float64 elements would be 8 TiB: refused by comparing with the file's size.
  expect_message(
      read_error(npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }",
                          std::string(8, '\0'))),
      {path_, "data is 8 bytes but shape [1099511627776] of float64 needs 8796093022208"});
  expect_message(
      read_error(npy_file(
          "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2), }", "")),
      {path_, "more elements than size_t"});
  expect_message(
      read_error(npy_file(
          "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }", "")),
      {path_, "more bytes than size_t"});
  expect_message(
      read_error(npy_file(
          "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", "")),
      {path_, "too large"});
}

TEST_F(Npy, RefusesMalformedHeaders) {
  const std::string data(4, '\0');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
       "unexpected key 'extra'"},
      {"{'descr': '<f4', 'fortran_order': False}", "lacks 'shape'"},
      {"{'descr': '<f4', 'shape': (1,)}", "lacks 'fortran_order'"},
      {"{'fortran_order': False, 'shape': (1,)}", "lacks 'descr'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "'descr' twice"},
      {"{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}", "True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "negative dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1)}", "not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", "tuple for 'shape'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1.0,)}", "expected ',' or ')'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} trailing", "after the header dict"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", "',' or '}'"},
      {"{'descr: '<f4', 'fortran_order': False, 'shape': (1,)}", "malformed .npy header"},
      {"'descr': '<f4'", "malformed .npy header"},
      {"", "malformed .npy header"},
  };
  for (const auto& [dict, problem] : cases) {
    expect_message(read_error(npy_file(dict, data)), {path_, problem});
  }
}

TEST_F(Npy, RefusesHostileHeaderLengths) {
  std::string bytes =
      std::string("\x93NUMPY\x02\x00", 8) + std::string("\xff\xff\xff\x7f", 4) + "{}";
  expect_message(read_error(bytes), {path_, "header length 2147483647", "1 MB limit"});
  bytes = std::string("\x93NUMPY\x01\x00", 8) + std::string("\xff\xff", 2) + "{}";
  expect_message(read_error(bytes), {path_, "header length 65535 runs past the end"});
}

TEST_F(Npy, RefusesMissingFilesAndFolders) {
  expect_message(error_of([&] { read_npy(dir_.file("absent.npy")); }),
                 {dir_.file("absent.npy"), "cannot open"});
  expect_message(error_of([&] { read_npy(dir_.path()); }), {dir_.path(), "not a regular file"});
  expect_message(error_of([&] { write_npy(dir_.file("no/such/out.npy"), Tensor({1})); }),
                 {"does not exist"});
}

// ---- Files exchanged with numpy -----------------------------------------------------------------

// Both sides compute value i as (i * 37 % 101 - 50) / 8: exact in float32 and float64 alike.
template <typename T>
BasicTensor<T> shared_values(const Shape& shape) {
  BasicTensor<T> t(shape);
  for (size_t i = 0; i < t.size(); ++i)
    t[i] = static_cast<T>(static_cast<long>(i * 37 % 101) - 50) / 8;
  return t;
}

TEST_F(Npy, ReadsWhatNumpyWrites) {
  const std::string script = dir_.file("write.py");
  write_bytes(script, std::string(kPythonPrelude) + R"(
d = sys.argv[1]
def values(shape, dtype):
    n = int(np.prod(shape))
    return (np.array([(i * 37 % 101 - 50) for i in range(n)], dtype=np.float64) / 8).astype(dtype).reshape(shape)
np.save(f'{d}/f4_3d.npy', values((2, 3, 4), np.float32))
np.save(f'{d}/f8_scalar.npy', values((), np.float64))
np.save(f'{d}/f8_1d.npy', values((5,), np.float64))
np.save(f'{d}/f4_empty.npy', values((0, 3), np.float32))
with open(f'{d}/f4_v2.npy', 'wb') as f:
    np.lib.format.write_array(f, values((3, 2), np.float32), version=(2, 0))
with open(f'{d}/f4_v3.npy', 'wb') as f:
    np.lib.format.write_array(f, values((4,), np.float32), version=(3, 0))
np.save(f'{d}/f4_fortran.npy', np.asfortranarray(values((2, 3), np.float32)))
np.save(f'{d}/f4_big.npy', values((3,), np.dtype('>f4')))
np.save(f'{d}/i4.npy', np.arange(3, dtype=np.int32))
)");
  const int status = run_python(script, dir_.path());
  if (status == 77) GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  ASSERT_EQ(status, 0) << script;

  struct Case {
    std::string file;
    NpyDtype dtype;
    Shape shape;
  };
  for (const Case& c : std::vector<Case>{{"f4_3d", NpyDtype::Float32, {2, 3, 4}},
                                         {"f8_scalar", NpyDtype::Float64, {}},
                                         {"f8_1d", NpyDtype::Float64, {5}},
                                         {"f4_empty", NpyDtype::Float32, {0, 3}},
                                         {"f4_v2", NpyDtype::Float32, {3, 2}},
                                         {"f4_v3", NpyDtype::Float32, {4}}}) {
    SCOPED_TRACE(c.file);
    const NpyArray a = read_npy(dir_.file(c.file + ".npy"));
    EXPECT_EQ(a.dtype, c.dtype);
    EXPECT_EQ(a.values.shape(), c.shape);
    const TensorD want = shared_values<double>(c.shape);
    EXPECT_TRUE(same_bits(a.values.data(), want.data(), want.size()));
  }
  expect_message(error_of([&] { read_npy(dir_.file("f4_fortran.npy")); }),
                 {dir_.file("f4_fortran.npy"), "Fortran order"});
  expect_message(error_of([&] { read_npy(dir_.file("f4_big.npy")); }),
                 {dir_.file("f4_big.npy"), "big-endian"});
  expect_message(error_of([&] { read_npy(dir_.file("i4.npy")); }),
                 {dir_.file("i4.npy"), "dtype '<i4' is not float32 or float64"});
}

TEST_F(Npy, NumpyReadsWhatWeWrite) {
  write_npy(dir_.file("a.npy"), shared_values<float>({2, 3, 4}));
  write_npy(dir_.file("b.npy"), shared_values<double>({5}));
  write_npy(dir_.file("c.npy"), shared_values<double>({}));
  write_npy(dir_.file("d.npy"), shared_values<float>({0, 7}));
  const std::string script = dir_.file("check.py");
  write_bytes(script, std::string(kPythonPrelude) + R"(
d = sys.argv[1]
def values(shape, dtype):
    n = int(np.prod(shape))
    return (np.array([(i * 37 % 101 - 50) for i in range(n)], dtype=np.float64) / 8).astype(dtype).reshape(shape)
for name, shape, dtype in (('a', (2, 3, 4), np.float32), ('b', (5,), np.float64),
                           ('c', (), np.float64), ('d', (0, 7), np.float32)):
    x = np.load(f'{d}/{name}.npy', allow_pickle=False)
    want = values(shape, dtype)
    assert x.dtype == want.dtype and x.shape == want.shape, (name, x.dtype, x.shape)
    assert np.array_equal(x, want), (name, x, want)
)");
  const int status = run_python(script, dir_.path());
  if (status == 77) GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  EXPECT_EQ(status, 0) << script;
}

}  // namespace
}  // namespace vitbench::core
