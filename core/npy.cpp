#include "core/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>
#include <type_traits>

#include "core/atomic_file.h"
#include "core/error.h"

namespace vitbench::core {

namespace {

constexpr std::string_view kMagic("\x93NUMPY", 6);
// numpy itself refuses headers over 10 000 bytes unless told otherwise; 1 MB leaves room for
// any honest rank while a hostile length cannot make us read gigabytes of "header".
constexpr size_t kMaxNpyHeaderBytes = size_t(1) << 20;
// numpy aligns the data to 64 bytes so that it can be mapped and used in place.
constexpr size_t kDataAlignment = 64;

class File {
 public:
  explicit File(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail(path, std::string("cannot open file: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      fail(path, "not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
  }
  ~File() { ::close(fd_); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  size_t size() const { return size_; }
  void read(size_t offset, void* out, size_t n) const {
    auto* dst = static_cast<char*>(out);
    while (n > 0) {
      const ssize_t got = ::pread(fd_, dst, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) fail(path_, "read failed (file changed while being read?)");
      dst += got;
      offset += static_cast<size_t>(got);
      n -= static_cast<size_t>(got);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  size_t size_ = 0;
};

struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// The header is the repr() of a Python dict; only the three keys numpy writes are accepted,
// in any order, with or without a trailing comma.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : text_(text), path_(path) {}

  Header parse() {
    Header h;
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    skip_spaces();
    expect('{', "the header dict to open with '{'");
    skip_spaces();
    while (!consume('}')) {
      const std::string key = parse_string("a key");
      skip_spaces();
      expect(':', "':' after key '" + excerpt(key, 40) + "'");
      skip_spaces();
      if (key == "descr") {
        mark(&seen_descr, key);
        if (at_end() || (peek() != '\'' && peek() != '"')) {
          fail(path_, "dtype " + snippet() + " is not float32 or float64");
        }
        h.descr = parse_string("the descr string");
      } else if (key == "fortran_order") {
        mark(&seen_fortran, key);
        h.fortran_order = parse_bool();
      } else if (key == "shape") {
        mark(&seen_shape, key);
        h.shape = parse_shape();
      } else {
        fail(path_, "header has unexpected key '" + excerpt(key, 40) + "'");
      }
      skip_spaces();
      if (consume(',')) {
        skip_spaces();
        continue;
      }
      expect('}', "',' or '}' after the value of '" + excerpt(key, 40) + "'");
      break;
    }
    skip_spaces();
    if (!at_end()) malformed("unexpected text " + snippet() + " after the header dict");
    if (!seen_descr) fail(path_, "header lacks 'descr'");
    if (!seen_fortran) fail(path_, "header lacks 'fortran_order'");
    if (!seen_shape) fail(path_, "header lacks 'shape'");
    return h;
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  void skip_spaces() {
    while (!at_end() && (peek() == ' ' || peek() == '\n' || peek() == '\t' || peek() == '\r')) {
      ++pos_;
    }
  }
  bool consume(char c) {
    if (at_end() || peek() != c) return false;
    ++pos_;
    return true;
  }
  void expect(char c, const std::string& context) {
    if (!consume(c)) malformed("expected " + context + ", found " + snippet());
  }
  std::string snippet() const {
    if (at_end()) return "the end of the header";
    return in_quotes(text_.substr(pos_), 16);
  }
  [[noreturn]] void malformed(const std::string& what) const {
    fail(path_, "malformed .npy header at offset " + std::to_string(pos_) + ": " + what);
  }
  void mark(bool* seen, const std::string& key) {
    if (*seen) fail(path_, "header gives '" + key + "' twice");
    *seen = true;
  }
  std::string parse_string(const std::string& what) {
    if (at_end() || (peek() != '\'' && peek() != '"'))
      malformed("expected " + what + ", found " + snippet());
    const char quote = text_[pos_++];
    const size_t start = pos_;
    while (!at_end() && peek() != quote) {
      // Escapes never occur in what numpy writes; refusing them keeps the parser small.
      if (peek() == '\\' || peek() == '\n') malformed("unsupported character in a string");
      ++pos_;
    }
    if (at_end()) malformed("unterminated string");
    return std::string(text_.substr(start, pos_++ - start));
  }
  bool parse_bool() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    malformed("expected True or False for 'fortran_order', found " + snippet());
  }
  size_t parse_dim() {
    if (!at_end() && peek() == '-') fail(path_, "shape has a negative dimension");
    if (at_end() || peek() < '0' || peek() > '9')
      malformed("expected a dimension, found " + snippet());
    size_t value = 0;
    while (!at_end() && peek() >= '0' && peek() <= '9') {
      const size_t digit = static_cast<size_t>(peek() - '0');
      if (value > (std::numeric_limits<size_t>::max() - digit) / 10) {
        fail(path_, "shape has a dimension too large for size_t");
      }
      value = value * 10 + digit;
      ++pos_;
    }
    return value;
  }
  Shape parse_shape() {
    expect('(', "a tuple for 'shape'");
    Shape shape;
    skip_spaces();
    bool trailing_comma = false;
    while (!consume(')')) {
      shape.push_back(parse_dim());
      skip_spaces();
      trailing_comma = consume(',');
      skip_spaces();
      if (!trailing_comma && !(!at_end() && peek() == ')')) {
        malformed("expected ',' or ')' in 'shape', found " + snippet());
      }
    }
    // Python reads "(5)" as the integer 5, not a tuple; numpy would refuse it too.
    if (shape.size() == 1 && !trailing_comma) malformed("shape (n) is not a tuple; write (n,)");
    return shape;
  }

  std::string_view text_;
  const std::string& path_;
  size_t pos_ = 0;
};

uint32_t load_le(const unsigned char* p, size_t bytes) {
  uint32_t v = 0;
  for (size_t i = bytes; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

struct RawArray {
  NpyDtype dtype;
  Shape shape;
  std::string bytes;  // little-endian values
};

RawArray read_raw(const std::string& path) {
  const File file(path);
  const size_t size = file.size();
  unsigned char prefix[12] = {};
  file.read(0, prefix, std::min<size_t>(size, sizeof prefix));
  if (std::string_view(reinterpret_cast<const char*>(prefix), std::min<size_t>(size, 6)) !=
      kMagic.substr(0, std::min<size_t>(size, 6))) {
    fail(path, "not a .npy file (bad magic)");
  }
  if (size < 10) {
    fail(path, "file is " + std::to_string(size) + " bytes, too short for a .npy header");
  }
  const unsigned major = prefix[6], minor = prefix[7];
  if (major < 1 || major > 3 || minor != 0) {
    fail(path, "unsupported .npy format version " + std::to_string(major) + "." +
                   std::to_string(minor) + " (1.0, 2.0 and 3.0 are read)");
  }
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t header_start = 8 + length_bytes;
  if (size < header_start) {
    fail(path, "file is " + std::to_string(size) + " bytes, too short for a .npy header");
  }
  const size_t header_length = load_le(prefix + 8, length_bytes);
  if (header_length > kMaxNpyHeaderBytes) {
    fail(path, "header length " + std::to_string(header_length) + " is over the 1 MB limit");
  }
  if (header_length > size - header_start) {
    fail(path, "header length " + std::to_string(header_length) + " runs past the end of the " +
                   std::to_string(size) + "-byte file (truncated?)");
  }
  std::string text(header_length, '\0');
  file.read(header_start, text.data(), header_length);
  const Header header = HeaderParser(text, path).parse();

  RawArray raw;
  if (header.descr == "<f4") {
    raw.dtype = NpyDtype::Float32;
  } else if (header.descr == "<f8") {
    raw.dtype = NpyDtype::Float64;
  } else {
    const bool big_endian = header.descr == ">f4" || header.descr == ">f8";
    fail(path, "dtype '" + excerpt(header.descr, 40) +
                   "' is not float32 or float64 in little-endian order" +
                   (big_endian ? " (the file is big-endian)" : "") + "; '<f4' or '<f8' is read");
  }
  if (header.fortran_order) fail(path, "Fortran order is not supported (C order only)");
  raw.shape = header.shape;

  // Everything is checked against the file's real size before anything is allocated.
  const size_t itemsize = raw.dtype == NpyDtype::Float32 ? 4 : 8;
  const char* type_name = raw.dtype == NpyDtype::Float32 ? "float32" : "float64";
  const size_t count = checked_element_count(raw.shape, path);
  const size_t data_start = header_start + header_length;
  const size_t available = size - data_start;
  if (count > std::numeric_limits<size_t>::max() / itemsize) {
    fail(path, "shape " + shape_to_string(raw.shape) + " of " + type_name +
                   " needs more bytes than size_t can count, but the file holds " +
                   std::to_string(available));
  }
  if (count * itemsize != available) {
    fail(path, "data is " + std::to_string(available) + " bytes but shape " +
                   shape_to_string(raw.shape) + " of " + type_name + " needs " +
                   std::to_string(count * itemsize));
  }
  raw.bytes.resize(available);
  file.read(data_start, raw.bytes.data(), available);
  return raw;
}

template <typename T, typename Bits>
T value_at(const std::string& bytes, size_t i) {
  Bits bits = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + i * sizeof(Bits);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&bits, p, sizeof bits);
  } else {
    for (size_t k = sizeof bits; k-- > 0;) bits = static_cast<Bits>((bits << 8) | p[k]);
  }
  return std::bit_cast<T>(bits);
}

template <typename Out>
BasicTensor<Out> to_tensor(const RawArray& raw) {
  BasicTensor<Out> t(raw.shape);
  for (size_t i = 0; i < t.size(); ++i) {
    t[i] = raw.dtype == NpyDtype::Float32
               ? static_cast<Out>(value_at<float, uint32_t>(raw.bytes, i))
               : static_cast<Out>(value_at<double, uint64_t>(raw.bytes, i));
  }
  return t;
}

template <typename T>
std::string encode(const BasicTensor<T>& t) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  std::string dict = std::string("{'descr': '<f") + (sizeof(T) == 4 ? "4" : "8") +
                     "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < t.rank(); ++i) dict += std::to_string(t.dim(i)) + ", ";
  if (t.rank() > 1) dict.resize(dict.size() - 2);  // "(5,)" keeps its comma, "(2, 3)" drops it
  if (t.rank() == 1) dict.pop_back();
  dict += "), }";

  // Version 1.0 has a 16-bit header length; only a longer header needs 2.0's 32 bits.
  auto header_length_for = [&](size_t prefix) {
    const size_t unpadded = prefix + dict.size() + 1;  // + the closing '\n'
    return dict.size() + (kDataAlignment - unpadded % kDataAlignment) % kDataAlignment + 1;
  };
  const unsigned major = header_length_for(10) <= 0xffff ? 1 : 2;
  const size_t prefix = major == 1 ? 10 : 12;
  const size_t header_length = header_length_for(prefix);

  std::string out(kMagic);
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  for (size_t k = 0; k < prefix - 8; ++k) {
    out.push_back(static_cast<char>((header_length >> (8 * k)) & 0xff));
  }
  out += dict;
  out.append(header_length - dict.size() - 1, ' ');
  out.push_back('\n');
  const size_t start = out.size();
  out.resize(start + t.size() * sizeof(T));
  auto* dst = reinterpret_cast<unsigned char*>(out.data() + start);
  if constexpr (std::endian::native == std::endian::little) {
    if (t.size()) std::memcpy(dst, t.data(), t.size() * sizeof(T));
  } else {
    for (size_t i = 0; i < t.size(); ++i) {
      const Bits bits = std::bit_cast<Bits>(t[i]);
      for (size_t k = 0; k < sizeof(T); ++k) dst[i * sizeof(T) + k] = (bits >> (8 * k)) & 0xff;
    }
  }
  return out;
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  const RawArray raw = read_raw(path);
  return NpyArray{raw.dtype, to_tensor<double>(raw)};
}

Tensor read_npy_float32(const std::string& path) { return to_tensor<float>(read_raw(path)); }

std::string encode_npy(const Tensor& t) { return encode(t); }
std::string encode_npy(const TensorD& t) { return encode(t); }

void write_npy(const std::string& path, const Tensor& t) {
  write_file_atomically(path, encode_npy(t));
}
void write_npy(const std::string& path, const TensorD& t) {
  write_file_atomically(path, encode_npy(t));
}

}  // namespace vitbench::core
