#include "bench/machine_info.h"

#include <link.h>
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include <blis.h>
#include <nlohmann/json.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace vitbench::bench {
namespace {

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return trim(line);
}

// "key : value" pairs of /proc/cpuinfo's first processor (every processor is the same model
// on the machines this suite targets).
std::vector<std::pair<std::string, std::string>> proc_cpuinfo_first() {
  std::vector<std::pair<std::string, std::string>> fields;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (trim(line).empty()) {
      if (!fields.empty()) break;
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    fields.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  return fields;
}

std::string field(const std::vector<std::pair<std::string, std::string>>& fields,
                  const std::string& key) {
  for (const auto& [k, v] : fields) {
    if (k == key) return v;
  }
  return "";
}

// Only the features that decide which kernels can run; the full list is noise in a report.
const std::vector<std::string>& interesting_flags() {
  static const std::vector<std::string> flags = {
      "sse4_2",      "avx",         "avx2",         "fma",        "f16c",
      "avx512f",     "avx512cd",    "avx512bw",     "avx512dq",   "avx512vl",
      "avx512ifma",  "avx512vbmi",  "avx512_vbmi2", "avx512_vnni", "avx512_bf16",
      "avx512_fp16", "avx_vnni",    "amx_tile",     "amx_bf16",   "neon",
      "asimd",       "asimdhp",     "asimddp",      "sve",        "sve2",
      "bf16",        "i8mm"};
  return flags;
}

std::vector<std::string> cpu_flags(const std::vector<std::pair<std::string, std::string>>& fields) {
  // x86 says "flags", ARM says "Features".
  std::string all = field(fields, "flags");
  if (all.empty()) all = field(fields, "Features");
  std::set<std::string> present;
  std::istringstream words(all);
  for (std::string w; words >> w;) present.insert(w);
#if defined(__aarch64__)
  // AArch64 always has Advanced SIMD; /proc/cpuinfo calls it asimd.
  present.insert("neon");
#endif
  std::vector<std::string> out;
  for (const std::string& f : interesting_flags()) {
    if (present.count(f)) out.push_back(f);
  }
  return out;
}

std::vector<size_t> parse_cpu_list(const std::string& list) {
  std::vector<size_t> cpus;
  std::istringstream in(list);
  for (std::string part; std::getline(in, part, ',');) {
    part = trim(part);
    if (part.empty()) continue;
    const auto dash = part.find('-');
    const size_t lo = std::strtoul(part.c_str(), nullptr, 10);
    const size_t hi = dash == std::string::npos ? lo : std::strtoul(part.c_str() + dash + 1, nullptr, 10);
    for (size_t c = lo; c <= hi && c < lo + 65536; ++c) cpus.push_back(c);
  }
  return cpus;
}

size_t parse_size(const std::string& text) {  // sysfs writes "32K", "1024K", "32768K", "8M"
  if (text.empty()) return 0;
  size_t value = std::strtoull(text.c_str(), nullptr, 10);
  switch (text.back()) {
    case 'K': value <<= 10; break;
    case 'M': value <<= 20; break;
    case 'G': value <<= 30; break;
    default: break;
  }
  return value;
}

std::vector<CacheInfo> caches_from_sysfs() {
  std::vector<CacheInfo> caches;
  const std::filesystem::path base = "/sys/devices/system/cpu/cpu0/cache";
  std::error_code ec;
  if (!std::filesystem::is_directory(base, ec)) return caches;
  for (int i = 0; i < 16; ++i) {
    const std::filesystem::path dir = base / ("index" + std::to_string(i));
    if (!std::filesystem::is_directory(dir, ec)) break;
    CacheInfo c;
    c.level = std::atoi(read_line(dir / "level").c_str());
    c.type = read_line(dir / "type");
    c.size = parse_size(read_line(dir / "size"));
    c.shared_by = parse_cpu_list(read_line(dir / "shared_cpu_list")).size();
    if (c.level > 0 && c.size > 0) caches.push_back(c);
  }
  return caches;
}

// Some virtual machines hide sysfs caches; glibc's sysconf reads them from cpuid instead.
std::vector<CacheInfo> caches_from_sysconf() {
  std::vector<CacheInfo> caches;
  auto add = [&](int level, const char* type, long size) {
    if (size > 0) caches.push_back({level, type, static_cast<size_t>(size), 0});
  };
#ifdef _SC_LEVEL1_DCACHE_SIZE
  add(1, "Data", ::sysconf(_SC_LEVEL1_DCACHE_SIZE));
  add(1, "Instruction", ::sysconf(_SC_LEVEL1_ICACHE_SIZE));
  add(2, "Unified", ::sysconf(_SC_LEVEL2_CACHE_SIZE));
  add(3, "Unified", ::sysconf(_SC_LEVEL3_CACHE_SIZE));
  add(4, "Unified", ::sysconf(_SC_LEVEL4_CACHE_SIZE));
#endif
  return caches;
}

// Physical cores: distinct (package, core) pairs in sysfs topology; /proc/cpuinfo's
// "cpu cores" × packages where sysfs lacks them.
size_t physical_cores(size_t logical, const std::vector<std::pair<std::string, std::string>>& f) {
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t cpu = 0; cpu < logical * 4 + 64; ++cpu) {
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    const std::string core = read_line(dir + "core_id");
    if (core.empty()) continue;
    seen.emplace(read_line(dir + "physical_package_id"), core);
  }
  if (!seen.empty()) return seen.size();
  const size_t per_package = std::strtoul(field(f, "cpu cores").c_str(), nullptr, 10);
  return per_package ? std::min(per_package, logical) : logical;
}

}  // namespace

CpuInfo cpu_info() {
  CpuInfo cpu;
  const auto fields = proc_cpuinfo_first();
  cpu.vendor = field(fields, "vendor_id");
  cpu.model = field(fields, "model name");
  cpu.family = std::atoi(field(fields, "cpu family").c_str());
  cpu.model_id = std::atoi(field(fields, "model").c_str());
  cpu.stepping = std::atoi(field(fields, "stepping").c_str());
#if defined(__x86_64__) || defined(__i386__)
  // cpuid is the authority on x86 (a container may mask /proc); the brand string may differ from
  // "model name" only in padding.
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0, &a, &b, &c, &d)) {
    char vendor[13] = {};
    std::copy_n(reinterpret_cast<const char*>(&b), 4, vendor);
    std::copy_n(reinterpret_cast<const char*>(&d), 4, vendor + 4);
    std::copy_n(reinterpret_cast<const char*>(&c), 4, vendor + 8);
    cpu.vendor = vendor;
  }
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    const unsigned base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
    cpu.stepping = static_cast<int>(a & 0xf);
    cpu.family = static_cast<int>(base_family == 0xf ? base_family + ((a >> 20) & 0xff) : base_family);
    cpu.model_id = static_cast<int>(base_family == 0xf || base_family == 0x6
                                        ? base_model + (((a >> 16) & 0xf) << 4)
                                        : base_model);
  }
  if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
    unsigned brand[12];
    for (unsigned leaf = 0; leaf < 3; ++leaf) {
      __get_cpuid(0x80000002 + leaf, &brand[4 * leaf], &brand[4 * leaf + 1], &brand[4 * leaf + 2],
                  &brand[4 * leaf + 3]);
    }
    const std::string text = trim(std::string(reinterpret_cast<const char*>(brand), 48).c_str());
    if (!text.empty()) cpu.model = text;
  }
#else
  if (cpu.vendor.empty()) {
    const std::string implementer = field(fields, "CPU implementer");
    if (!implementer.empty()) cpu.vendor = "ARM implementer " + implementer;
  }
  if (cpu.model.empty()) {
    const std::string part = field(fields, "CPU part");
    if (!part.empty()) cpu.model = "CPU part " + part;
  }
  cpu.model_id = static_cast<int>(std::strtol(field(fields, "CPU part").c_str(), nullptr, 0));
  cpu.stepping = std::atoi(field(fields, "CPU revision").c_str());
#endif
  if (cpu.vendor.empty()) cpu.vendor = "unknown";
  if (cpu.model.empty()) cpu.model = "unknown";
  cpu.flags = cpu_flags(fields);

  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  cpu.threads = online > 0 ? static_cast<size_t>(online) : 1;
  cpu.available = available_cpus();
  cpu.cores = physical_cores(cpu.threads, fields);
  cpu.caches = caches_from_sysfs();
  if (cpu.caches.empty()) cpu.caches = caches_from_sysconf();
  return cpu;
}

core::SchedulingInfo scheduling_info() {
  core::SchedulingInfo s;
  const int policy = ::sched_getscheduler(0);
  switch (policy < 0 ? policy : policy & ~SCHED_RESET_ON_FORK) {
    case SCHED_OTHER: s.policy = "SCHED_OTHER"; break;
    case SCHED_FIFO: s.policy = "SCHED_FIFO"; break;
    case SCHED_RR: s.policy = "SCHED_RR"; break;
    case SCHED_BATCH: s.policy = "SCHED_BATCH"; break;
    case SCHED_IDLE: s.policy = "SCHED_IDLE"; break;
    default: s.policy = "unknown"; break;
  }
  sched_param param{};
  if (::sched_getparam(0, &param) == 0) s.priority = param.sched_priority;
  const auto number = [](const char* path) -> std::optional<int64_t> {
    const std::string text = read_line(path);
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || errno != 0 || *end != '\0') return std::nullopt;
    return v;
  };
  const auto runtime = number("/proc/sys/kernel/sched_rt_runtime_us");
  const auto period = number("/proc/sys/kernel/sched_rt_period_us");
  if (runtime && period) {
    s.rt_runtime_us = *runtime;
    s.rt_period_us = *period;
  }
  return s;
}

nlohmann::json to_json(const core::SchedulingInfo& s) {
  nlohmann::json j = {{"policy", s.policy}, {"priority", s.priority}};
  if (s.rt_period_us > 0) {
    j["rt_runtime_us"] = s.rt_runtime_us;
    j["rt_period_us"] = s.rt_period_us;
  }
  return j;
}

size_t available_cpus() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (::sched_getaffinity(0, sizeof mask, &mask) == 0 && CPU_COUNT(&mask) > 0) {
    return static_cast<size_t>(CPU_COUNT(&mask));
  }
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<size_t>(online) : 1;
}

size_t last_level_cache_bytes(const CpuInfo& cpu) {
  int level = 0;
  size_t size = 0;
  for (const CacheInfo& c : cpu.caches) {
    if (c.type == "Instruction") continue;
    if (c.level > level || (c.level == level && c.size > size)) {
      level = c.level;
      size = c.size;
    }
  }
  return size;
}

BlisInfo blis_info() {
  BlisInfo info;
  info.version = bli_info_get_version_str();
  info.config = bli_arch_string(bli_arch_query_id());
  info.threading = bli_info_get_enable_openmp()     ? "openmp"
                   : bli_info_get_enable_pthreads() ? "pthreads"
                                                    : "none";
  return info;
}

std::vector<std::string> blas_libraries_loaded() {
  std::vector<std::string> found;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        auto* out = static_cast<std::vector<std::string>*>(data);
        const std::string name = info->dlpi_name ? info->dlpi_name : "";
        const std::string base = std::filesystem::path(name).filename().string();
        for (const char* key : {"blis", "blas", "mkl", "dnnl", "lapack"}) {
          if (base.find(key) != std::string::npos) {
            char resolved[PATH_MAX];
            out->push_back(::realpath(name.c_str(), resolved) ? resolved : name);
            break;
          }
        }
        return 0;
      },
      &found);
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  return found;
}

std::string os_description() {
  utsname u{};
  if (::uname(&u) != 0) return "unknown";
  std::string release = u.release;
  // "6.1.0-18-amd64" -> "6.1.0": distribution suffixes make equal kernels look different.
  const auto cut = release.find_first_not_of("0123456789.");
  if (cut != std::string::npos && cut > 0) release = release.substr(0, cut);
  return std::string(u.sysname) + " " + release + " " + u.machine;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "unknown-host";
  return name;
}

nlohmann::json to_json(const CpuInfo& cpu) {
  nlohmann::json caches = nlohmann::json::array();
  for (const CacheInfo& c : cpu.caches) {
    nlohmann::json j = {{"level", c.level}, {"type", c.type}, {"size", c.size}};
    if (c.shared_by) j["shared_by"] = c.shared_by;
    caches.push_back(std::move(j));
  }
  return {{"vendor", cpu.vendor},     {"model", cpu.model},     {"family", cpu.family},
          {"model_id", cpu.model_id}, {"stepping", cpu.stepping}, {"flags", cpu.flags},
          {"cores", cpu.cores},       {"threads", cpu.threads}, {"available", cpu.available},
          {"caches", caches}};
}

}  // namespace vitbench::bench
