#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_file.h"

namespace vitbench::core {

namespace {

// The reference implementation refuses headers over 100 MB; a ViT-L header is about 40 KB.
constexpr uint64_t kMaxSafetensorsHeaderBytes = uint64_t(100) << 20;

std::string brief(const nlohmann::json& j) { return excerpt(j.dump(), 60); }

std::string tensor_where(const std::string& path, const std::string& name) {
  return path + ": tensor " + in_quotes(name);
}

uint64_t load_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint16_t load_le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

float float_from_bits(uint32_t bits) { return std::bit_cast<float>(bits); }
uint32_t bits_from_float(float f) { return std::bit_cast<uint32_t>(f); }

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return float_from_bits(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return float_from_bits(sign);
    // A half subnormal is a float normal: shift the leading one into the implicit bit.
    uint32_t float_exponent = 127 - 15 + 1;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --float_exponent;
    }
    return float_from_bits(sign | (float_exponent << 23) | ((mantissa & 0x3ffu) << 13));
  }
  return float_from_bits(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

uint16_t float_to_half(float f) {
  const uint32_t x = bits_from_float(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) {
    if (ax == 0x7f800000u) return sign | 0x7c00u;
    // NaN stays NaN (quiet bit set so a payload of low bits alone cannot turn it into inf).
    return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  }
  // 65520 lies halfway between the largest half (65504) and 2^16; ties go to even, i.e. up.
  if (ax >= 0x477ff000u) return sign | 0x7c00u;
  if (ax < 0x38800000u) {  // below 2^-14: a half subnormal (or zero)
    const uint32_t exponent = ax >> 23;
    const uint32_t shift = 126 - exponent;  // from the 24-bit significand to units of 2^-24
    if (shift > 24) return sign;            // below 2^-25: rounds to zero
    const uint32_t significand = (ax & 0x7fffffu) | 0x800000u;
    uint32_t result = significand >> shift;
    const uint32_t rest = significand & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (result & 1u))) ++result;
    return static_cast<uint16_t>(sign | result);
  }
  const uint32_t rounded = ax + 0xfffu + ((ax >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - (uint32_t(127 - 15) << 23)) >> 13));
}

float bf16_to_float(uint16_t b) { return float_from_bits(static_cast<uint32_t>(b) << 16); }

uint16_t float_to_bf16(float f) {
  const uint32_t x = bits_from_float(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);
  // Overflow past the largest bf16 carries into the exponent and lands on inf, as it should.
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

bool parse_dtype(const std::string& s, StDtype* dtype) {
  if (s == "F32")
    *dtype = StDtype::F32;
  else if (s == "F16")
    *dtype = StDtype::F16;
  else if (s == "BF16")
    *dtype = StDtype::BF16;
  else
    return false;
  return true;
}

// nlohmann keeps one of several equal keys without a word, so a second pass over the same text
// looks for them. Runs only after parse_json_text accepted the text, so the depth is bounded.
class DuplicateKeyScan : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit DuplicateKeyScan(std::string path) : path_(std::move(path)) {}

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    stack_.emplace_back(true, std::set<std::string>{});
    return true;
  }
  bool end_object() override {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    stack_.emplace_back(false, std::set<std::string>{});
    return true;
  }
  bool end_array() override {
    stack_.pop_back();
    return true;
  }
  bool key(string_t& key) override {
    auto& [is_object, keys] = stack_.back();
    if (is_object && !keys.insert(key).second) {
      if (stack_.size() == 1)
        fail(path_, "duplicate tensor name " + in_quotes(key) + " in the header");
      if (top_key_ == "__metadata__") fail(path_, "duplicate __metadata__ key " + in_quotes(key));
      fail(tensor_where(path_, top_key_), "duplicate field " + in_quotes(key) + " in the header");
    }
    if (stack_.size() == 1) top_key_ = key;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    fail(path_, std::string("malformed JSON header: ") + e.what());
  }

 private:
  std::string path_;
  std::string top_key_;
  std::vector<std::pair<bool, std::set<std::string>>> stack_;
};

size_t unsigned_value(const nlohmann::json& v, bool* ok) {
  *ok = v.is_number_unsigned() ||
        (v.is_number_integer() && v.get<nlohmann::json::number_integer_t>() >= 0);
  return *ok ? v.get<size_t>() : 0;
}

SafetensorsFile::Entry parse_entry(const std::string& path, const std::string& name,
                                   const nlohmann::json& value, size_t data_size) {
  const std::string where = tensor_where(path, name);
  if (!value.is_object()) {
    fail(where, "header entry must be an object with dtype, shape and data_offsets");
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(field)) fail(where, std::string("missing field \"") + field + "\"");
  }
  for (const auto& [field, unused] : value.items()) {
    if (field != "dtype" && field != "shape" && field != "data_offsets") {
      fail(where, "unexpected field " + in_quotes(field) + " (only dtype, shape, data_offsets)");
    }
  }
  SafetensorsFile::Entry e;
  e.name = name;

  const nlohmann::json& dtype = value["dtype"];
  if (!dtype.is_string()) fail(where, "dtype must be a string, got " + brief(dtype));
  if (!parse_dtype(dtype.get<std::string>(), &e.dtype)) {
    fail(where,
         "unknown dtype " + in_quotes(dtype.get<std::string>()) + " (supported: F32, F16, BF16)");
  }

  const nlohmann::json& shape = value["shape"];
  if (!shape.is_array()) fail(where, "shape must be an array, got " + brief(shape));
  for (const nlohmann::json& d : shape) {
    bool ok = false;
    const size_t dim = unsigned_value(d, &ok);
    if (!ok) fail(where, "shape " + brief(shape) + " must hold non-negative integers");
    e.shape.push_back(dim);
  }
  const size_t count = checked_element_count(e.shape, where);
  if (count == 0) {
    fail(where, "shape " + shape_to_string(e.shape) + " has no elements (no ViT tensor is empty)");
  }

  const nlohmann::json& offsets = value["data_offsets"];
  bool ok_begin = false, ok_end = false;
  if (offsets.is_array() && offsets.size() == 2) {
    e.begin = unsigned_value(offsets[0], &ok_begin);
    e.end = unsigned_value(offsets[1], &ok_end);
  }
  if (!ok_begin || !ok_end) {
    fail(where,
         "data_offsets must be [begin, end] with non-negative integers, got " + brief(offsets));
  }
  const std::string range =
      "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
  if (e.begin > e.end) fail(where, range + " end before they begin");
  if (e.end > data_size) {
    fail(where, range + " reach past the end of the " + std::to_string(data_size) + " data bytes");
  }
  const size_t element_bytes = dtype_size(e.dtype);
  const size_t held = e.end - e.begin;
  const std::string needs = "shape " + shape_to_string(e.shape) + " of " + to_string(e.dtype);
  if (count > std::numeric_limits<size_t>::max() / element_bytes) {
    fail(where, range + " hold " + std::to_string(held) + " bytes but " + needs +
                    " needs more bytes than size_t can count");
  }
  if (count * element_bytes != held) {
    fail(where, range + " hold " + std::to_string(held) + " bytes but " + needs + " needs " +
                    std::to_string(count * element_bytes));
  }
  return e;
}

template <typename Convert>
void convert_each(const unsigned char* src, size_t count, float* out, Convert convert) {
  for (size_t i = 0; i < count; ++i) out[i] = convert(load_le16(src + 2 * i));
}

void append_le64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}

}  // namespace

size_t dtype_size(StDtype dtype) { return dtype == StDtype::F32 ? 4 : 2; }

const char* to_string(StDtype dtype) {
  switch (dtype) {
    case StDtype::F32:
      return "F32";
    case StDtype::F16:
      return "F16";
    case StDtype::BF16:
      return "BF16";
  }
  return "?";
}

struct SafetensorsFile::Mapping {
  void* address = nullptr;
  size_t length = 0;
  std::unordered_map<std::string, size_t> index;  // name -> position in entries_
  ~Mapping() {
    if (address) ::munmap(address, length);
  }
};

SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile file;
  file.path_ = path;
  file.mapping_ = std::make_unique<Mapping>();

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open file: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  const size_t file_size = static_cast<size_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    fail(path,
         "file is " + std::to_string(file_size) + " bytes, too short for the 8-byte header length");
  }
  void* address = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (address == MAP_FAILED)
    fail(path, std::string("cannot map file: ") + std::strerror(map_errno));
  file.mapping_->address = address;
  file.mapping_->length = file_size;
  const auto* bytes = static_cast<const unsigned char*>(address);

  // Compared against what follows the length field, so no sum can wrap.
  const uint64_t header_length = load_le64(bytes);
  if (header_length > file_size - 8) {
    fail(path, "header length " + std::to_string(header_length) + " exceeds the " +
                   std::to_string(file_size - 8) + " bytes that follow it (truncated file?)");
  }
  if (header_length > kMaxSafetensorsHeaderBytes) {
    fail(path, "header length " + std::to_string(header_length) + " is over the 100 MB limit");
  }
  const std::string header(reinterpret_cast<const char*>(bytes + 8), header_length);
  const size_t data_size = file_size - 8 - header_length;
  file.data_ = bytes + 8 + header_length;

  const nlohmann::json json = parse_json_text(header, path);
  if (!json.is_object()) fail(path, "header is not a JSON object");
  DuplicateKeyScan scan(path);
  nlohmann::json::sax_parse(header, &scan);

  for (const auto& [name, value] : json.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) fail(path, "__metadata__ must be an object of strings");
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string()) {
          fail(path,
               "__metadata__ entry " + in_quotes(key) + " must be a string, got " + brief(text));
        }
        file.metadata_[key] = text.get<std::string>();
      }
      continue;
    }
    file.entries_.push_back(parse_entry(path, name, value, data_size));
  }

  // In data order: each tensor must start where the previous one ended, and the last must end
  // at the end of the file, so no byte is shared and none is left over.
  std::sort(file.entries_.begin(), file.entries_.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  size_t expected = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : file.entries_) {
    if (e.begin < expected) {
      fail(tensor_where(path, e.name),
           "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
               "] overlap tensor " + in_quotes(previous->name) + " [" +
               std::to_string(previous->begin) + ", " + std::to_string(previous->end) + "]");
    }
    if (e.begin > expected) {
      fail(path, "data bytes [" + std::to_string(expected) + ", " + std::to_string(e.begin) +
                     ") belong to no tensor");
    }
    expected = e.end;
    previous = &e;
  }
  if (expected != data_size) {
    fail(path, "data bytes [" + std::to_string(expected) + ", " + std::to_string(data_size) +
                   ") belong to no tensor");
  }
  for (size_t i = 0; i < file.entries_.size(); ++i) {
    file.mapping_->index.emplace(file.entries_[i].name, i);
  }
  return file;
}

const SafetensorsFile::Entry* SafetensorsFile::find(const std::string& name) const {
  const auto it = mapping_->index.find(name);
  return it == mapping_->index.end() ? nullptr : &entries_[it->second];
}

void SafetensorsFile::read_float32(const Entry& entry, float* out) const {
  // Offsets were validated for this file's entries only; a stranger's Entry could point anywhere.
  const Entry* own = find(entry.name);
  if (!own || own->begin != entry.begin || own->end != entry.end || own->dtype != entry.dtype ||
      own->shape != entry.shape) {
    fail(tensor_where(path_, entry.name), "is not a tensor of this file");
  }
  const size_t count = checked_element_count(entry.shape, path_);
  const unsigned char* src = data_ + entry.begin;
  switch (entry.dtype) {
    case StDtype::F32:
      if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(out, src, count * 4);
      } else {
        for (size_t i = 0; i < count; ++i) {
          const unsigned char* p = src + 4 * i;
          out[i] = float_from_bits(uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
                                   uint32_t(p[3]) << 24);
        }
      }
      break;
    case StDtype::F16:
      convert_each(src, count, out, half_to_float);
      break;
    case StDtype::BF16:
      convert_each(src, count, out, bf16_to_float);
      break;
  }
}

std::string encode_safetensors(const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                               StDtype dtype, const std::map<std::string, std::string>& metadata) {
  // Insertion order keeps the header in data order, as the reference writer does.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  size_t offset = 0;
  const size_t element_bytes = dtype_size(dtype);
  for (const auto& [name, tensor] : tensors) {
    const std::string where = "safetensors encoder: tensor " + in_quotes(name);
    if (name == "__metadata__" || !names.insert(name).second) {
      fail(where, "name is reserved or given twice");
    }
    if (!tensor) fail(where, "no tensor given");
    // Readers (ours included) refuse empty tensors, so never write one.
    if (tensor->size() == 0) fail(where, "has no elements");
    const size_t bytes = tensor->size() * element_bytes;
    header[name] = {{"dtype", to_string(dtype)},
                    {"shape", tensor->shape()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // Padding to 8 bytes keeps the data aligned for readers that map it in place.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + text.size() + offset);
  append_le64(out, text.size());
  out += text;
  for (const auto& [name, tensor] : tensors) {
    const float* values = tensor->data();
    const size_t n = tensor->size();
    const size_t start = out.size();
    out.resize(start + n * element_bytes);
    unsigned char* dst = reinterpret_cast<unsigned char*>(out.data() + start);
    for (size_t i = 0; i < n; ++i) {
      if (dtype == StDtype::F32) {
        const uint32_t b = bits_from_float(values[i]);
        for (int k = 0; k < 4; ++k) dst[4 * i + k] = static_cast<unsigned char>(b >> (8 * k));
      } else {
        const uint16_t b =
            dtype == StDtype::F16 ? float_to_half(values[i]) : float_to_bf16(values[i]);
        dst[2 * i] = static_cast<unsigned char>(b & 0xffu);
        dst[2 * i + 1] = static_cast<unsigned char>(b >> 8);
      }
    }
  }
  return out;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       StDtype dtype, const std::map<std::string, std::string>& metadata) {
  write_file_atomically(path, encode_safetensors(tensors, dtype, metadata));
}

}  // namespace vitbench::core
