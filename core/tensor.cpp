#include "core/tensor.h"

#include <limits>

namespace vitbench::core {

size_t checked_element_count(const Shape& shape, const std::string& where) {
  size_t count = 1;
  for (size_t d : shape) {
    if (d != 0 && count > std::numeric_limits<size_t>::max() / d) {
      fail(where, "shape " + shape_to_string(shape) + " has more elements than size_t can count");
    }
    count *= d;
  }
  return count;
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace vitbench::core
