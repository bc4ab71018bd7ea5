#include "bench/report.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <sstream>

#include <benchmark/benchmark.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_file.h"
#include "optimized/hwy/kernels.h"

#ifndef VITBENCH_SOURCE_DIR
#define VITBENCH_SOURCE_DIR "."
#endif

namespace vitbench::bench {
namespace {

// Google Benchmark's console table for people, its JSON reporter into a string for the report.
// Both see the same runs, renamed (see run_google_benchmark).
class CaptureReporter final : public benchmark::BenchmarkReporter {
 public:
  CaptureReporter(std::unique_ptr<benchmark::BenchmarkReporter> console,
                  bool display_aggregates_only)
      : console_(std::move(console)), display_aggregates_only_(display_aggregates_only) {
    json_.SetOutputStream(&json_text_);
    json_.SetErrorStream(&errors_);
  }

  bool ReportContext(const Context& context) override {
    json_.ReportContext(context);
    return console_ ? console_->ReportContext(context) : true;
  }

  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> renamed = runs;
    for (Run& r : renamed) {
      r.run_name.time_type.clear();
      r.run_name.iterations.clear();
    }
    json_.ReportRuns(renamed);
    if (!console_) return;
    // Google Benchmark hands repetitions and aggregates over in separate calls.
    const bool aggregates = std::any_of(renamed.begin(), renamed.end(), [](const Run& r) {
      return r.run_type == Run::RT_Aggregate;
    });
    const bool repeated = std::any_of(renamed.begin(), renamed.end(), [](const Run& r) {
      return r.repetitions > 1;
    });
    if (display_aggregates_only_ && repeated && !aggregates) return;
    console_->ReportRuns(renamed);
  }

  void Finalize() override {
    json_.Finalize();
    if (console_) console_->Finalize();
    finalized_ = true;
  }

  // Google Benchmark calls no reporter when nothing runs (every backend failed verification, or
  // --benchmark_list_tests): the report is then its context and an empty benchmark list.
  void complete_if_empty() {
    if (finalized_) return;
    json_text_.str("");
    json_.ReportContext(Context());
    json_.Finalize();
    finalized_ = true;
  }

  std::string json() const { return json_text_.str(); }

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> console_;
  bool display_aggregates_only_;
  std::ostringstream json_text_, errors_;
  bool finalized_ = false;
  benchmark::JSONReporter json_;
};

std::string utc_stamp(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
  return text;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

nlohmann::json vitbench_context(const ContextInputs& in) {
  const BuildInfo build = build_info();
  const GitInfo git = git_info();
  const BlisInfo blis = blis_info();
  const std::vector<std::string> blas = blas_libraries_loaded();
  size_t threads = 1;
  for (size_t t : in.thread_counts) threads = std::max(threads, t);
  std::string blas_loaded;
  for (const std::string& path : blas) blas_loaded += (blas_loaded.empty() ? "" : ";") + path;
  const auto names = [](const std::vector<const char*>& targets) {
    nlohmann::json list = nlohmann::json::array();
    for (const char* target : targets) list.push_back(target);
    return list;
  };
  nlohmann::json verification = nlohmann::json::array();
  for (const Verification& v : in.verification) verification.push_back(to_json(v));

  const std::string chosen = optimized::hwy::chosen_target();
  return {
      {"version", 1},
      {"cpu", to_json(in.cpu)},
      {"highway",
       {{"chosen_target", chosen},
        {"compiled_targets", names(optimized::hwy::compiled_targets())},
        {"supported_targets", names(optimized::hwy::supported_targets())}}},
      {"blis", {{"version", blis.version}, {"config", blis.config}, {"threading", blis.threading}}},
      {"blas_loaded", blas_loaded.empty() ? "none" : blas_loaded},
      {"build",
       {{"compiler", build.compiler}, {"flags", build.flags}, {"build_type", build.build_type}}},
      {"git", {{"commit", git.commit}, {"dirty", git.dirty}}},
      {"threads", threads},
      {"thread_counts", in.thread_counts},
      {"os", os_description()},
      {"scheduling", to_json(in.scheduling)},
      {"machine_key", in.cpu.model + "/" + chosen + "/t" + std::to_string(threads)},
      {"peak", to_json(in.peaks)},
      {"verification", verification},
      {"profile", in.profile},
      {"timing", "real_time"},
  };
}

void initialize_google_benchmark(const std::vector<std::string>& flags) {
  // Google Benchmark keeps argv[0] for the report's "executable", so the strings must outlive
  // the run: static storage, rebuilt per call.
  static std::vector<std::string> storage;
  storage.clear();
  storage.push_back("vitbench bench");
  for (const std::string& f : flags) storage.push_back(f);
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(storage.size());
  benchmark::Initialize(&argc, argv.data());
  if (argc > 1) {
    std::string unknown;
    for (int i = 1; i < argc; ++i) unknown += (unknown.empty() ? "" : " ") + std::string(argv[i]);
    core::fail("vitbench bench", "unrecognized Google Benchmark flag(s): " + unknown);
  }
}

nlohmann::json run_google_benchmark(const GbRunOptions& options) {
  initialize_google_benchmark(options.flags);

  std::unique_ptr<benchmark::BenchmarkReporter> console;
  if (options.console) {
    const bool tty = ::isatty(STDOUT_FILENO) != 0;
    console = std::make_unique<benchmark::ConsoleReporter>(
        tty ? benchmark::ConsoleReporter::OO_ColorTabular : benchmark::ConsoleReporter::OO_Tabular);
  }
  CaptureReporter reporter(std::move(console), options.display_aggregates_only);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.complete_if_empty();
  const std::string text = reporter.json();
  return core::parse_json_text(text, "Google Benchmark's JSON report");
}

void add_vitbench_context(nlohmann::json& report, const nlohmann::json& context) {
  if (!report.contains("context") || !report["context"].is_object()) {
    report["context"] = nlohmann::json::object();
  }
  report["context"]["vitbench"] = context;
  if (!report.contains("benchmarks")) report["benchmarks"] = nlohmann::json::array();
}

std::string sanitize_name_part(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_';
    if (keep) {
      out += c;
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && (out.back() == '-' || out.back() == '.')) out.pop_back();
  while (!out.empty() && out.front() == '.') out.erase(out.begin());
  return out.empty() ? "unknown" : out;
}

std::string report_file_name(const std::string& host, const std::string& cpu_model,
                             std::chrono::system_clock::time_point when) {
  return sanitize_name_part(host) + "-" + sanitize_name_part(cpu_model) + "-" + utc_stamp(when) +
         ".json";
}

std::string write_report(const nlohmann::json& report, const std::string& dir,
                         const std::string& host, const std::string& cpu_model,
                         std::chrono::system_clock::time_point when) {
  const std::string name = report_file_name(host, cpu_model, when);
  const std::string stem = name.substr(0, name.size() - 5);
  std::string path = dir + "/" + name;
  for (int n = 2; exists(path) && n < 1000; ++n) {
    path = dir + "/" + stem + "-" + std::to_string(n) + ".json";
  }
  core::write_file_atomically(path, report.dump(2) + "\n");
  return path;
}

std::string default_reports_dir() { return std::string(VITBENCH_SOURCE_DIR) + "/reports"; }

}  // namespace vitbench::bench
