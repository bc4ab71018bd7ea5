// config.json on arbitrary bytes: the JSON reader (depth and size caps) and the ViTConfig
// parser. An accepted config must be valid and survive a round trip through config_to_json.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/json_file.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vitbench;
  const std::string where = "fuzz/config.json";
  const std::string text(fuzz::as_text(data, size));
  fuzz::accepts(where, [&] {
    const core::Config c = core::parse_config(core::parse_json_text(text, where), where);
    c.validate(where);
    // Derived sizes a forward pass relies on.
    if (c.num_heads == 0 || c.hidden_size % c.num_heads != 0 || c.patch_size == 0 ||
        c.image_size % c.patch_size != 0 || c.labels.size() != c.num_labels) {
      fuzz::contract_broken("an accepted config is inconsistent", text);
    }
    const core::Config again = core::parse_config(core::config_to_json(c), where);
    if (core::config_to_json(again) != core::config_to_json(c)) {
      fuzz::contract_broken("an accepted config does not survive a round trip", text);
    }
  });
  return 0;
}
