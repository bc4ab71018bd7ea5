// The safetensors reader on arbitrary bytes: open() validates the whole file, so every entry it
// accepts must then convert without reading outside the mapping.
#include <cstdint>
#include <vector>

#include "core/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vitbench;
  static fuzz::MemFile file("model.safetensors");
  const std::string& path = file.write(fuzz::as_text(data, size));
  fuzz::accepts(path, [&] {
    const core::SafetensorsFile st = core::SafetensorsFile::open(path);
    std::vector<float> out;
    for (const core::SafetensorsFile::Entry& e : st.entries()) {
      // The accepted byte ranges lie in the file, so the element count is bounded by its size.
      const size_t count = (e.end - e.begin) / core::dtype_size(e.dtype);
      if (count > size) fuzz::contract_broken("an entry claims more elements than the file has bytes", e.name);
      out.resize(count);
      st.read_float32(e, out.data());
      if (st.find(e.name) == nullptr) fuzz::contract_broken("find() misses an entry", e.name);
    }
  });
  return 0;
}
