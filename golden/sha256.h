// SHA-256 (FIPS 180-4), small and dependency-free: goldens are checked against the hashes in
// their manifests, and linking OpenSSL for that one function is not worth a build dependency.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vitbench::golden {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // Finishes the hash; the object must not be updated afterwards.
  std::array<uint8_t, 32> digest();
  std::string hex_digest();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
  bool finished_ = false;
};

std::string sha256_hex(std::string_view bytes);
// Streams the file; throws core::Error naming `path` when it cannot be read.
std::string sha256_file_hex(const std::string& path);

}  // namespace vitbench::golden
