// The error contract every reader keeps: bad input throws core::Error, whose message is one line
// that names the file and says what is wrong.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace vitbench::testing {

// The message of the core::Error that fn() throws; a test failure if it throws none.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const core::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a core::Error";
  return "";
}

// `message` is one line and holds every one of `parts` (the file, the tensor, the problem).
inline void expect_message(const std::string& message, const std::vector<std::string>& parts) {
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
  for (const std::string& part : parts) {
    EXPECT_NE(message.find(part), std::string::npos) << "should say \"" << part << "\": " << message;
  }
}

}  // namespace vitbench::testing
