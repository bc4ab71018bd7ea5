// Typed fields of a stranger's JSON object (config.json and its kin), each failure one line that
// names the file and the field.
#pragma once

#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace vitbench::core {

// A string from the file, quoted as JSON writes it: control characters escaped, so a message
// that quotes it stays one line whatever the file holds.
inline std::string json_quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// json[key] as an integer in [1, max_value]; `fallback` when the key is absent (an error when
// there is none).
inline size_t positive_int(const nlohmann::json& json, const char* key, const std::string& where,
                           size_t max_value, std::optional<size_t> fallback = std::nullopt) {
  auto it = json.find(key);
  if (it == json.end()) {
    if (fallback) return *fallback;
    fail(where, std::string("missing field \"") + key + "\"");
  }
  if (!it->is_number_integer()) {
    fail(where, std::string("field \"") + key + "\" must be an integer, got " + excerpt(it->dump()));
  }
  const long long value = it->get<long long>();
  if (value <= 0 || static_cast<unsigned long long>(value) > max_value) {
    fail(where, std::string("field \"") + key + "\" must be in [1, " + std::to_string(max_value) +
                    "], got " + std::to_string(value));
  }
  return static_cast<size_t>(value);
}

// An object of class ids to names, as HuggingFace's id2label and timm's label_names write it
// ({"0": "cat", "1": "dog"}, in any order): one name for each id in [0, object.size()), each key
// an id as Python's int() of a decimal reads it, each name a string. `field` names it in errors.
inline std::vector<std::string> labels_by_id(const nlohmann::json& object, const char* field,
                                             const std::string& where) {
  const size_t n = object.size();
  std::vector<std::string> labels(n);
  std::vector<bool> seen(n, false);
  for (const auto& [key, value] : object.items()) {
    size_t id = 0;
    size_t used = 0;
    try {
      id = std::stoul(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != key.size() || key.empty() || id >= n || seen[id]) {
      fail(where, std::string("\"") + field + "\" key " + json_quoted(key) +
                      " is not a unique id in [0, " + std::to_string(n) + ")");
    }
    if (!value.is_string()) {
      fail(where, std::string("\"") + field + "\"[" + json_quoted(key) + "] must be a string");
    }
    seen[id] = true;
    labels[id] = value.get<std::string>();
  }
  return labels;
}

// json[key] as a string; `fallback` when the key is absent.
inline std::string string_field(const nlohmann::json& json, const char* key,
                                const std::string& where, const std::string& fallback) {
  auto it = json.find(key);
  if (it == json.end()) return fallback;
  if (!it->is_string()) fail(where, std::string("field \"") + key + "\" must be a string");
  return it->get<std::string>();
}

// json[key] as true or false; `fallback` when the key is absent.
inline bool bool_field(const nlohmann::json& json, const char* key, const std::string& where,
                       bool fallback) {
  auto it = json.find(key);
  if (it == json.end()) return fallback;
  if (!it->is_boolean()) fail(where, std::string("field \"") + key + "\" must be true or false");
  return it->get<bool>();
}

}  // namespace vitbench::core
