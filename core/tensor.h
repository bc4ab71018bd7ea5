// A dense, C-order tensor with 64-byte-aligned storage: the currency every part of the suite
// trades in. float32 is the model's type; the reference and the taps use float64.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"

namespace vitbench::core {

using Shape = std::vector<size_t>;

// Product of the dimensions, refusing (instead of wrapping) when it overflows size_t.
size_t checked_element_count(const Shape& shape, const std::string& where);
std::string shape_to_string(const Shape& shape);

inline constexpr size_t kTensorAlignment = 64;

template <typename T>
class BasicTensor {
 public:
  BasicTensor() = default;
  explicit BasicTensor(Shape shape) : shape_(std::move(shape)) {
    size_ = checked_element_count(shape_, "tensor");
    allocate();
  }
  BasicTensor(Shape shape, T fill) : BasicTensor(std::move(shape)) {
    for (size_t i = 0; i < size_; ++i) data_[i] = fill;
  }

  BasicTensor(const BasicTensor& other) : shape_(other.shape_), size_(other.size_) {
    allocate();
    std::copy(other.data(), other.data() + size_, data());
  }
  BasicTensor& operator=(const BasicTensor& other) {
    if (this != &other) *this = BasicTensor(other);
    return *this;
  }
  BasicTensor(BasicTensor&&) noexcept = default;
  BasicTensor& operator=(BasicTensor&&) noexcept = default;

  const Shape& shape() const { return shape_; }
  size_t rank() const { return shape_.size(); }
  size_t dim(size_t i) const { return shape_.at(i); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  std::span<T> span() { return {data(), size_}; }
  std::span<const T> span() const { return {data(), size_}; }

  // Same elements, new shape of the same size.
  void reshape(Shape shape) {
    if (checked_element_count(shape, "tensor") != size_) {
      fail("tensor", "cannot reshape " + shape_to_string(shape_) + " to " + shape_to_string(shape));
    }
    shape_ = std::move(shape);
  }

 private:
  struct AlignedFree {
    void operator()(T* p) const { ::operator delete[](p, std::align_val_t(kTensorAlignment)); }
  };
  void allocate() {
    // At least one element, so data() is never null even for an empty tensor.
    data_.reset(static_cast<T*>(::operator new[](std::max<size_t>(size_, 1) * sizeof(T),
                                                 std::align_val_t(kTensorAlignment))));
  }

  Shape shape_;
  size_t size_ = 0;
  std::unique_ptr<T[], AlignedFree> data_;
};

using Tensor = BasicTensor<float>;
using TensorD = BasicTensor<double>;

template <typename To, typename From>
BasicTensor<To> convert(const BasicTensor<From>& from) {
  BasicTensor<To> to(from.shape());
  for (size_t i = 0; i < from.size(); ++i) to[i] = static_cast<To>(from[i]);
  return to;
}

}  // namespace vitbench::core
