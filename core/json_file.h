// Reading JSON files from strangers: size-capped, depth-capped, every failure one line
// that names the file.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace vitbench::core {

// Nesting deeper than this is refused before nlohmann's recursive destructor could overflow
// the stack on a hostile file.
inline constexpr int kMaxJsonDepth = 64;

nlohmann::json parse_json_text(const std::string& text, const std::string& where);
nlohmann::json read_json_file(const std::string& path, size_t max_bytes = size_t(256) << 20);

}  // namespace vitbench::core
