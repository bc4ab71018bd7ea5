// The safetensors format: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and [begin, end) byte range in the data that follows, then the data.
// The file is memory-mapped and validated whole before any tensor is read.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace vitbench::core {

enum class StDtype { F32, F16, BF16 };
size_t dtype_size(StDtype dtype);
const char* to_string(StDtype dtype);

class SafetensorsFile {
 public:
  struct Entry {
    std::string name;
    StDtype dtype;
    Shape shape;
    size_t begin;  // byte offsets into the data section
    size_t end;
  };

  // Maps and validates `path`: the header length lies within the file; the JSON is well formed;
  // dtypes are F32, F16 or BF16; each byte size equals the shape's product times the dtype size;
  // offsets lie within the data, do not overlap, and cover every data byte; names are unique.
  // Throws core::Error naming the file (and the tensor) otherwise.
  static SafetensorsFile open(const std::string& path);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Converts one tensor to float32 into `out` (entry's element count).
  void read_float32(const Entry& entry, float* out) const;

 private:
  SafetensorsFile() = default;
  struct Mapping;
  std::string path_;
  std::unique_ptr<Mapping> mapping_;
  const unsigned char* data_ = nullptr;  // start of the data section
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Encodes tensors as a safetensors file (for tests, fixtures and exported presets). Float32
// values are rounded to nearest-even for F16 and BF16.
std::string encode_safetensors(const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                               StDtype dtype,
                               const std::map<std::string, std::string>& metadata = {});
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       StDtype dtype, const std::map<std::string, std::string>& metadata = {});

}  // namespace vitbench::core
