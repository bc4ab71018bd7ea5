// NumPy .npy files (format versions 1.0-3.0), C order, little-endian float32 or float64.
// Images come in as [N, C, H, W]; logits, taps and goldens go out as float32 or float64.
#pragma once

#include <string>

#include "core/tensor.h"

namespace vitbench::core {

enum class NpyDtype { Float32, Float64 };

struct NpyArray {
  NpyDtype dtype;
  TensorD values;  // converted to float64 whatever the file's dtype (float32 converts exactly)
};

// Throws core::Error naming `path` for anything else: a bad magic or header, another dtype,
// Fortran order, big-endian data, a size that disagrees with the file, an absurd shape.
NpyArray read_npy(const std::string& path);
Tensor read_npy_float32(const std::string& path);  // float64 files are rounded to float32

// Encodes a whole .npy file in memory (used by the writers and by tests).
std::string encode_npy(const Tensor& t);
std::string encode_npy(const TensorD& t);
// Written atomically (core/atomic_file.h).
void write_npy(const std::string& path, const Tensor& t);
void write_npy(const std::string& path, const TensorD& t);

}  // namespace vitbench::core
