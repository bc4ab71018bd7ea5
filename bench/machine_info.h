// What the machine, the build and the libraries are, for the report's context block: everything
// a reader needs to tell whether two reports are comparable (same CPU, same SIMD target, same
// BLIS configuration, same compiler flags, same commit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/scheduling.h"

namespace vitbench::bench {

struct CacheInfo {
  int level = 0;
  std::string type;  // "Data", "Instruction", "Unified"
  size_t size = 0;   // bytes
  size_t shared_by = 0;  // logical CPUs sharing one instance; 0 when unknown
};

struct CpuInfo {
  std::string vendor;  // "AuthenticAMD", "GenuineIntel", an ARM implementer, or "unknown"
  std::string model;   // the brand string, e.g. "AMD EPYC 7B13"
  int family = 0, model_id = 0, stepping = 0;
  std::vector<std::string> flags;  // the SIMD features that matter here, lower case
  size_t cores = 0;    // physical cores online
  size_t threads = 0;  // logical CPUs online
  size_t available = 0;  // logical CPUs this process may run on (its affinity mask)
  std::vector<CacheInfo> caches;
};

struct GitInfo {
  std::string commit;  // "unknown" when the build had no git or no repository
  bool dirty = false;
};

struct BuildInfo {
  std::string compiler;    // "GNU 12.2.0"
  std::string flags;       // the C++ flags of this build type, plus project-wide options
  std::string build_type;  // "Release"
};

struct BlisInfo {
  std::string version;    // "0.9.0"
  std::string config;     // the sub-configuration chosen at run time, e.g. "zen3"
  std::string threading;  // "openmp", "pthreads" or "none"
};

CpuInfo cpu_info();
// This process's policy and priority, and the kernel's real-time throttle (core/scheduling.h).
core::SchedulingInfo scheduling_info();
// Logical CPUs this process may run on (its affinity mask; the online count if that fails).
size_t available_cpus();
// Captured when the binary was built (see bench/git_info.cmake): it describes the code that runs.
GitInfo git_info();
BuildInfo build_info();
BlisInfo blis_info();
// The BLAS-like libraries mapped into this process (resolved paths), so a report says which
// sgemm actually ran, whatever the alternatives system points at.
std::vector<std::string> blas_libraries_loaded();
// "Linux 6.1.0 x86_64"
std::string os_description();
std::string host_name();

// The largest last-level cache size in bytes, or 0 when unknown.
size_t last_level_cache_bytes(const CpuInfo& cpu);

nlohmann::json to_json(const CpuInfo& cpu);
nlohmann::json to_json(const core::SchedulingInfo& scheduling);

}  // namespace vitbench::bench
