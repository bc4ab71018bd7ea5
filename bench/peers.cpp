#include "bench/peers.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "bench/text_table.h"
#include "bench/verification.h"
#include "core/config.h"
#include "core/error.h"

#ifndef VITBENCH_SOURCE_DIR
#define VITBENCH_SOURCE_DIR "."
#endif

extern char** environ;

namespace vitbench::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kUnavailable = 3;  // bench/peers/peer_common.py
constexpr int kMismatch = 4;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  const size_t newline = text.find_last_of('\n', end);
  const size_t begin = newline == std::string::npos ? 0 : newline + 1;
  return text.substr(begin, end - begin + 1);
}

void write_f32(const std::string& path, const core::Tensor& t) {
  std::ofstream out(path, std::ios::binary);
  // Tensor storage is native float32, and every platform this builds for is little-endian, the
  // byte order the runners read.
  out.write(reinterpret_cast<const char*>(t.data()),
            static_cast<std::streamsize>(t.size() * sizeof(float)));
  if (!out) core::fail(path, "cannot write the peer's input");
}

// The runner's stdout is one JSON document; anything a runtime printed there before it is
// skipped by taking the last line that parses.
std::optional<json> parse_output(const std::string& out) {
  try {
    json j = json::parse(out);
    if (j.is_object()) return j;
  } catch (const json::exception&) {
  }
  std::istringstream lines(out);
  std::optional<json> found;
  for (std::string line; std::getline(lines, line);) {
    try {
      json j = json::parse(line);
      if (j.is_object()) found = std::move(j);
    } catch (const json::exception&) {
    }
  }
  return found;
}

struct Spawned {
  int exit_code = -1;
  std::string out, err;
  std::string spawn_error;  // non-empty when the runner could not be started at all
};

// posix_spawn rather than fork: bench's process may hold worker threads, and only spawn is safe
// to call from a multi-threaded process without care about what the child runs before exec.
Spawned spawn_and_wait(const std::vector<std::string>& argv, const std::string& dir) {
  Spawned s;
  const std::string out_path = dir + "/stdout.json", err_path = dir + "/stderr.txt";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const int flags = O_WRONLY | O_CREAT | O_TRUNC;
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), flags, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), flags, 0600);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    s.spawn_error = "cannot start " + argv[0] + ": " + std::strerror(rc);
    return s;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  s.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  s.out = read_file(out_path);
  s.err = read_file(err_path);
  return s;
}

class TempFolder {
 public:
  TempFolder() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/vitbench-peer-XXXXXX";
    if (!::mkdtemp(pattern.data())) core::fail(pattern, "cannot create a temporary folder");
    path_ = pattern;
  }
  ~TempFolder() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

PeerRun blank_run(const PeerSpec& spec, const PeerRequest& request) {
  PeerRun run;
  run.peer = spec.name;
  run.model = request.model ? request.model->id : "";
  run.batch = request.batch;
  run.threads = request.threads;
  run.checked_against = request.checked_against;
  return run;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

const std::vector<std::string>& peer_names() {
  static const std::vector<std::string> names = {"torch", "onnxruntime"};
  return names;
}

PeerSpec find_peer(const std::string& name) {
  const std::string dir = std::string(VITBENCH_SOURCE_DIR) + "/bench/peers/";
  // Debian's python3-torch lives in the system interpreter; a pyenv or venv python3 first on
  // PATH usually lacks it, so the system one is named outright, unless VITBENCH_PEER_PYTHON
  // names another (a venv with another PyTorch, on a machine that is not Debian).
  const char* chosen = std::getenv("VITBENCH_PEER_PYTHON");
  const std::string python = chosen && *chosen ? chosen : "/usr/bin/python3";
  if (name == "torch") return {name, {python, dir + "torch_peer.py"}};
  if (name == "onnxruntime") return {name, {python, dir + "onnxruntime_peer.py"}};
  std::string known;
  for (const std::string& n : peer_names()) known += (known.empty() ? "" : ", ") + n;
  core::fail("--peers", "unknown peer \"" + name + "\" (known: " + known + ")");
}

const char* to_string(PeerStatus status) {
  switch (status) {
    case PeerStatus::Timed: return "timed";
    case PeerStatus::Unavailable: return "unavailable";
    case PeerStatus::Mismatch: return "mismatch";
    case PeerStatus::Failed: return "failed";
  }
  return "failed";
}

PeerRun interpret_peer_output(const PeerSpec& spec, const PeerRequest& request, int exit_code,
                              const std::string& out, const std::string& err) {
  PeerRun run = blank_run(spec, request);
  if (exit_code == kUnavailable) {
    run.status = PeerStatus::Unavailable;
    run.message = last_line(err);
    if (run.message.empty()) run.message = "the runner says it is unavailable";
    return run;
  }
  const std::optional<json> result = parse_output(out);
  if (result) {
    run.version = result->value("version", std::string());
    for (const char* key : {"runtime", "settings", "load_seconds", "warmup", "check"}) {
      if (result->contains(key)) run.details[key] = (*result)[key];
    }
  }
  if (exit_code != 0 && exit_code != kMismatch) {
    run.status = PeerStatus::Failed;
    const std::string why = last_line(err);
    run.message = "exit code " + std::to_string(exit_code) + (why.empty() ? "" : ": " + why);
    return run;
  }
  if (!result) {
    run.status = PeerStatus::Failed;
    run.message = "printed no JSON result on stdout" +
                  (last_line(err).empty() ? std::string() : " (" + last_line(err) + ")");
    return run;
  }

  // bench's own check of the logits the runner computed: the same bar as every backend's.
  const core::Tensor& expected = *request.expected_logits;
  std::string check_error;
  core::TensorD logits(expected.shape());
  const json& rows = result->contains("logits") ? (*result)["logits"] : json();
  const size_t n = expected.dim(0), labels = expected.dim(1);
  if (!rows.is_array() || rows.size() != n) {
    check_error = "returned no logits of our shape";
  } else {
    for (size_t r = 0; r < n && check_error.empty(); ++r) {
      if (!rows[r].is_array() || rows[r].size() != labels) {
        check_error = "returned logits of another shape";
        break;
      }
      for (size_t j = 0; j < labels; ++j) {
        const json& v = rows[r][j];
        logits[r * labels + j] = v.is_number() ? v.get<double>() : std::nan("");
      }
    }
  }
  const std::string against =
      request.checked_against.empty() ? "ours" : request.checked_against + "'s";
  if (!check_error.empty()) {
    run.status = PeerStatus::Mismatch;
    run.message = check_error + "; not timed";
    return run;
  }
  const LogitCheck check = check_logits(logits, core::convert<double>(expected), request.tolerance);
  run.details["bench_check"] = check.figures;
  const json& rel = check.figures["max_rel_error"];
  run.max_rel_error = rel.is_number() ? rel.get<double>() : -1;
  const std::string figure = rel.is_number() ? format("%.2e", rel.get<double>()) : "not finite";
  if (!check.passed || exit_code == kMismatch) {
    run.status = PeerStatus::Mismatch;
    run.message = "logits differ from " + against + ": max rel error " + figure + " (tolerance " +
                  format("%.0e", request.tolerance) + ", top-1 " +
                  std::to_string(check.top1_agree) + "/" + std::to_string(check.top1_checked) +
                  "); not timed";
    if (exit_code == 0) run.message = "the runner reported a pass, but its " + run.message;
    return run;
  }

  const json reps = result->value("repetitions", json::array());
  for (const json& r : reps) {
    PeerRepetition p;
    if (r.is_object() && r.contains("iterations") && r["iterations"].is_number_unsigned() &&
        r.contains("real_seconds") && r["real_seconds"].is_number()) {
      p.iterations = r["iterations"].get<size_t>();
      p.real_seconds = r["real_seconds"].get<double>();
      p.cpu_seconds = r.value("cpu_seconds", 0.0);
    }
    if (p.iterations == 0 || !(p.real_seconds > 0) || !std::isfinite(p.real_seconds) ||
        !(p.cpu_seconds >= 0) || !std::isfinite(p.cpu_seconds)) {
      run.status = PeerStatus::Failed;
      run.message = "a repetition without iterations or a positive time: " + r.dump();
      run.repetitions.clear();
      return run;
    }
    run.repetitions.push_back(p);
  }
  if (run.repetitions.empty()) {
    run.status = PeerStatus::Failed;
    run.message = "checked its logits but returned no repetitions";
    return run;
  }
  run.status = PeerStatus::Timed;
  std::vector<double> ms;
  for (const PeerRepetition& p : run.repetitions) {
    ms.push_back(1e3 * p.real_seconds / static_cast<double>(p.iterations));
  }
  run.message = "logits within " + figure + " of " + against + ", median " +
                format(median(ms) < 10 ? "%.3f" : "%.1f", median(ms)) + " ms";
  return run;
}

PeerRun run_peer(const PeerSpec& spec, const PeerRequest& request) {
  PeerRun run = blank_run(spec, request);
  const ModelUnderTest& m = *request.model;
  if (!core::is_preset_name(m.source)) {
    run.status = PeerStatus::Unavailable;
    run.message =
        "peers rebuild the weights from the seed, so they run presets only, not " + m.source;
    return run;
  }
  TempFolder dir;
  write_f32(dir.path() + "/images.f32", *request.images);
  write_f32(dir.path() + "/expected.f32", *request.expected_logits);
  const core::Tensor& images = *request.images;
  const core::Tensor& logits = *request.expected_logits;
  const json document = {
      {"format", "vitbench-peer-request"},
      {"version", 1},
      {"peer", spec.name},
      {"model", m.id},
      {"config", core::config_to_json(m.model.config)},
      {"weight_seed", request.weight_seed},
      {"batch", request.batch},
      {"threads", request.threads},
      {"images", {{"file", "images.f32"}, {"shape", images.shape()}, {"dtype", "float32"}}},
      {"expected_logits",
       {{"file", "expected.f32"}, {"shape", logits.shape()}, {"dtype", "float32"},
        {"computed_by", request.checked_against}}},
      {"tolerance", request.tolerance},
      {"repetitions", request.repetitions},
      {"min_time", request.min_time},
      {"warmup_iterations", request.warmup_iterations},
      {"warmup_min_time", request.warmup_min_time},
  };
  const std::string request_path = dir.path() + "/request.json";
  {
    std::ofstream out(request_path);
    out << document.dump(1) << "\n";
    if (!out) core::fail(request_path, "cannot write the peer request");
  }
  std::vector<std::string> argv = spec.command;
  argv.push_back("--request");
  argv.push_back(request_path);
  const Spawned s = spawn_and_wait(argv, dir.path());
  if (!s.spawn_error.empty()) {
    run.status = PeerStatus::Unavailable;
    run.message = s.spawn_error;
    return run;
  }
  return interpret_peer_output(spec, request, s.exit_code, s.out, s.err);
}

nlohmann::json peer_benchmark_entries(const PeerRun& run, double flops_per_forward,
                                      double peak_gflops, int family_index) {
  json entries = json::array();
  if (run.status != PeerStatus::Timed || run.repetitions.empty()) return entries;
  const size_t reps = run.repetitions.size();
  const std::string name = "model/" + run.model + "/b" + std::to_string(run.batch) + "/t" +
                           std::to_string(run.threads) + "/peer:" + run.peer + "/repeats:" +
                           std::to_string(reps);
  const std::string label = "peer:" + run.peer + (run.version.empty() ? "" : " " + run.version);
  const double gflop = flops_per_forward * 1e-9;
  const double peak = std::max(peak_gflops, 1e-9);

  // Per repetition, in Google Benchmark's terms: times per iteration in ms, and every counter
  // an iteration-invariant rate (value / seconds per iteration), as registration.cpp sets ours.
  const std::vector<std::string> keys = {"real_time", "cpu_time", "GFLOP/s",
                                         "%peak",     "images/s", "threads"};
  std::vector<std::vector<double>> values(keys.size());
  for (size_t i = 0; i < reps; ++i) {
    const PeerRepetition& p = run.repetitions[i];
    const double iters = static_cast<double>(p.iterations);
    const double seconds = p.real_seconds / iters;
    json e = {
        {"name", name},
        {"family_index", family_index},
        {"per_family_instance_index", 0},
        {"run_name", name},
        {"run_type", "iteration"},
        {"repetitions", reps},
        {"repetition_index", i},
        {"iterations", p.iterations},
        {"real_time", 1e3 * seconds},
        {"cpu_time", 1e3 * p.cpu_seconds / iters},
        {"time_unit", "ms"},
        {"GFLOP/s", gflop / seconds},
        {"%peak", 100.0 * gflop / peak / seconds},
        {"images/s", static_cast<double>(run.batch) / seconds},
        {"threads", static_cast<double>(run.threads)},
        {"label", label},
    };
    for (size_t k = 0; k < keys.size(); ++k) values[k].push_back(e[keys[k]].get<double>());
    entries.push_back(std::move(e));
  }
  if (reps < 2) return entries;  // Google Benchmark writes aggregates only for repetitions > 1

  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / static_cast<double>(v.size());
  };
  // Google Benchmark's stddev is the sample standard deviation, and its cv stddev / mean.
  auto stddev = [&](const std::vector<double>& v) {
    const double m = mean(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / static_cast<double>(v.size() - 1));
  };
  for (const char* aggregate : {"mean", "median", "stddev", "cv"}) {
    const std::string a = aggregate;
    json e = {
        {"name", name + "_" + a},
        {"family_index", family_index},
        {"per_family_instance_index", 0},
        {"run_name", name},
        {"run_type", "aggregate"},
        {"repetitions", reps},
        {"threads", 1},
        {"aggregate_name", a},
        {"aggregate_unit", a == "cv" ? "percentage" : "time"},
        {"iterations", reps},
        {"time_unit", "ms"},
        {"label", label},
    };
    for (size_t k = 0; k < keys.size(); ++k) {
      const std::vector<double>& v = values[k];
      double x = 0;
      if (a == "mean") x = mean(v);
      if (a == "median") x = median(v);
      if (a == "stddev") x = stddev(v);
      if (a == "cv") x = mean(v) != 0 ? stddev(v) / mean(v) : 0;
      e[keys[k]] = x;
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

nlohmann::json peers_context(const std::vector<PeerRun>& runs) {
  json peers = json::object();
  for (const PeerRun& r : runs) {
    json& p = peers[r.peer];
    if (p.is_null()) {
      p = {{"available", false}, {"passed", true}, {"runs", json::array()}};
    }
    json entry = {{"model", r.model},     {"batch", r.batch},
                  {"threads", r.threads}, {"status", to_string(r.status)},
                  {"message", r.message}};
    if (r.max_rel_error >= 0) entry["max_rel_error"] = r.max_rel_error;
    for (auto it = r.details.begin(); it != r.details.end(); ++it) entry[it.key()] = it.value();
    p["runs"].push_back(entry);
    if (r.status != PeerStatus::Unavailable) p["available"] = true;
    if (r.status == PeerStatus::Mismatch || r.status == PeerStatus::Failed) p["passed"] = false;
    if (!r.version.empty()) p["version"] = r.version;
    if (r.details.contains("runtime")) p["runtime"] = r.details["runtime"];
    if (!r.checked_against.empty()) p["checked_against"] = r.checked_against;
    if (r.max_rel_error >= 0) {
      p["checked_max_rel_error"] = std::max(p.value("checked_max_rel_error", 0.0), r.max_rel_error);
    }
    if (r.status == PeerStatus::Unavailable && !p.contains("reason")) p["reason"] = r.message;
  }
  for (auto it = peers.begin(); it != peers.end(); ++it) {
    if (!(*it)["available"].get<bool>()) (*it)["passed"] = nullptr;  // nothing was checked
  }
  return peers;
}

}  // namespace vitbench::bench
