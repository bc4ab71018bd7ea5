// A golden case's manifest.json on arbitrary bytes, next to the real files of a small checked-in
// case (copied once into a private folder), so that a mutated manifest which still names and
// hashes those files reaches the deeper checks: shapes, taps, tolerances. Every refusal must be
// a one-line CorruptedGolden naming a file of the case; nothing the manifest says may make the
// reader touch a file outside the case folder.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "golden/manifest.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace fs = std::filesystem;

// The case whose files back every run; small (2 blocks, batch 1) so each run hashes ~100 KB.
constexpr const char* kCase = "meanpool-noqkvbias-b1";

std::string case_dir;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const fs::path source = fs::path(VITBENCH_SOURCE_DIR) / "golden" / "cases" / kCase;
  char pattern[] = "/tmp/vitbench-fuzz-golden-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  case_dir = (fs::path(pattern) / kCase).string();
  fs::create_directories(case_dir);
  for (const auto& entry : fs::directory_iterator(source)) {
    if (entry.path().filename() != "manifest.json") {
      fs::copy_file(entry.path(), fs::path(case_dir) / entry.path().filename());
    }
  }
  // libFuzzer ends with exit(), so the folder goes with it.
  static const std::string root = pattern;
  std::atexit([] { fs::remove_all(root); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vitbench;
  {
    std::ofstream out(case_dir + "/manifest.json", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  fuzz::accepts(case_dir, [&] {
    const golden::Case c = golden::load_case(case_dir);
    if (c.taps.empty() || c.taps.back().name != "logits") {
      fuzz::contract_broken("an accepted case has no logits", case_dir);
    }
  });
  return 0;
}
