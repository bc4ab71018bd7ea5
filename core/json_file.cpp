#include "core/json_file.h"

#include <fstream>

#include "core/error.h"

namespace vitbench::core {

nlohmann::json parse_json_text(const std::string& text, const std::string& where) {
  // The depth is checked while parsing, so a hostile file never builds a tree deep enough for
  // nlohmann's recursive destructor to overflow the stack.
  auto depth_guard = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    if ((event == nlohmann::json::parse_event_t::object_start ||
         event == nlohmann::json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth) {
      fail(where, "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text, depth_guard);
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    for (char& ch : what) {
      if (ch == '\n' || ch == '\r') ch = ' ';
    }
    fail(where, "malformed JSON: " + what);
  }
}

nlohmann::json read_json_file(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open file");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) fail(path, "cannot read file size");
  if (static_cast<size_t>(size) > max_bytes) {
    fail(path, "file is " + std::to_string(size) + " bytes, more than the " +
                   std::to_string(max_bytes) + " allowed for JSON");
  }
  in.seekg(0);
  std::string text(static_cast<size_t>(size), '\0');
  if (!in.read(text.data(), size)) fail(path, "cannot read file");
  return parse_json_text(text, path);
}

}  // namespace vitbench::core
