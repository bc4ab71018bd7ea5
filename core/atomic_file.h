// Every file the suite writes (logits, reports, goldens, dashboards) appears whole or not at all:
// the bytes go to an anonymous temporary in the target's folder, which is linked into place
// only once complete. A run killed midway leaves the previous file intact and nothing partial.
#pragma once

#include <string>
#include <string_view>

namespace vitbench::core {

// Throws core::Error naming `path` if its folder does not exist (folders are never created
// silently) or the write fails.
void write_file_atomically(const std::string& path, std::string_view bytes);

// The folder of `path` must exist; throws core::Error naming it otherwise. Lets commands refuse
// an impossible output before doing minutes of work.
void require_output_folder(const std::string& path);

}  // namespace vitbench::core
