#include "bench/summary.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "bench/text_table.h"

namespace vitbench::bench {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) parts.push_back(part);
  return parts;
}

bool parse_prefixed(const std::string& s, char prefix, size_t* out) {
  if (s.size() < 2 || s[0] != prefix) return false;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s.c_str() + 1, &end, 10);
  if (*end != '\0') return false;
  *out = static_cast<size_t>(v);
  return true;
}

struct Row {
  std::string backend;
  size_t batch = 0, threads = 0;
  double ms = 0, images = 0, gflops = 0, peak = 0, cv = -1;
  std::string error;
};

double number(const nlohmann::json& run, const char* key) {
  auto it = run.find(key);
  return it != run.end() && it->is_number() ? it->get<double>() : 0.0;
}

double to_ms(double value, const std::string& unit) {
  if (unit == "ns") return value * 1e-6;
  if (unit == "us") return value * 1e-3;
  if (unit == "s") return value * 1e3;
  return value;
}

}  // namespace

bool parse_benchmark_name(const std::string& full, ParsedName* out) {
  std::string name = full;
  for (const char* suffix : {"_mean", "_median", "_stddev", "_cv"}) {
    const std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      name.erase(name.size() - s.size());
      break;
    }
  }
  std::vector<std::string> parts = split(name, '/');
  // Google Benchmark's own fields ("repeats:5", "real_time", ...) follow ours.
  while (!parts.empty() && (parts.back().find(':') != std::string::npos ||
                            parts.back() == "real_time" || parts.back() == "process_time")) {
    if (parts.back().rfind("peer:", 0) == 0) break;
    parts.pop_back();
  }
  ParsedName p;
  if (parts.size() == 5 && parts[0] == "model") {
    p.kind = "model";
    p.model = parts[1];
    p.backend = parts[4];
    if (!parse_prefixed(parts[2], 'b', &p.batch) || !parse_prefixed(parts[3], 't', &p.threads)) {
      return false;
    }
  } else if (parts.size() == 6 && parts[0] == "op") {
    p.kind = "op";
    p.op = parts[1];
    p.model = parts[2];
    p.shape = parts[3];
    p.backend = parts[5];
    if (!parse_prefixed(parts[4], 't', &p.threads)) return false;
  } else {
    return false;
  }
  *out = p;
  return true;
}

std::string format_summary(const nlohmann::json& report, const std::vector<std::string>& notes) {
  // model -> rows; the median aggregate wins over single runs, which are used when a run had
  // one repetition only (no aggregates).
  std::map<std::string, std::map<std::tuple<std::string, size_t, size_t>, Row>> tables;
  std::map<std::string, std::map<std::tuple<std::string, size_t, size_t>, bool>> have_median;
  const nlohmann::json benchmarks =
      report.contains("benchmarks") ? report["benchmarks"] : nlohmann::json::array();
  for (const nlohmann::json& run : benchmarks) {
    ParsedName p;
    if (!run.contains("name") || !parse_benchmark_name(run["name"].get<std::string>(), &p) ||
        p.kind != "model") {
      continue;
    }
    const auto key = std::make_tuple(p.backend, p.batch, p.threads);
    Row& row = tables[p.model][key];
    row.backend = p.backend;
    row.batch = p.batch;
    row.threads = p.threads;
    if (run.value("error_occurred", false)) {
      row.error = run.value("error_message", std::string("error"));
      continue;
    }
    const std::string type = run.value("run_type", std::string("iteration"));
    const std::string aggregate = run.value("aggregate_name", std::string());
    if (type == "aggregate" && aggregate == "cv") {
      row.cv = number(run, "real_time") * 100.0;  // Google Benchmark stores CV as a fraction
      continue;
    }
    const bool median = type == "aggregate" && aggregate == "median";
    if (!median && (type == "aggregate" || have_median[p.model][key])) continue;
    if (median) have_median[p.model][key] = true;
    row.ms = to_ms(number(run, "real_time"), run.value("time_unit", std::string("ns")));
    row.images = number(run, "images/s");
    row.gflops = number(run, "GFLOP/s");
    row.peak = number(run, "%peak");
  }

  std::map<std::string, const nlohmann::json*> verdicts;
  const nlohmann::json* ctx = nullptr;
  if (report.contains("context") && report["context"].contains("vitbench")) {
    ctx = &report["context"]["vitbench"];
    if (ctx->contains("verification")) {
      for (const nlohmann::json& v : (*ctx)["verification"]) {
        verdicts[v.value("backend", std::string())] = &v;
      }
    }
  }
  auto verdict = [&](const std::string& backend) -> std::string {
    if (backend.rfind("peer:", 0) == 0) {
      // Peers are not verified like backends: their runner checked its logits against ours.
      const std::string name = backend.substr(5);
      const nlohmann::json* peer = nullptr;
      if (ctx && ctx->contains("peers") && (*ctx)["peers"].contains(name)) {
        peer = &(*ctx)["peers"][name];
      }
      if (!peer || !peer->contains("checked_max_rel_error")) return "peer";
      char text[128];
      std::snprintf(text, sizeof text, "peer, logits within %.1e of %s",
                    (*peer)["checked_max_rel_error"].get<double>(),
                    peer->value("checked_against", std::string("ours")).c_str());
      return text;
    }
    auto it = verdicts.find(backend);
    if (it == verdicts.end()) return "not verified";
    const nlohmann::json& v = *it->second;
    const std::string source = v.value("source", std::string());
    if (!v.value("passed", false)) return "FAILED (" + source + ")";
    double worst = 0;
    for (const nlohmann::json& c : v.value("cases", nlohmann::json::array())) {
      if (c.contains("logits") && c["logits"].contains("max_rel_error") &&
          c["logits"]["max_rel_error"].is_number()) {
        worst = std::max(worst, c["logits"]["max_rel_error"].get<double>());
      }
    }
    if (source == "oracle") return "oracle";
    char text[96];
    std::snprintf(text, sizeof text, "pass (%s, max rel %.1e)", source.c_str(), worst);
    return text;
  };

  std::ostringstream out;
  out << "\n== Summary (medians; speed-up over the slowest optimized backend at the same batch "
         "and threads; peer: rows are other runtimes on the same model and input)\n";
  for (auto& [model, rows] : tables) {
    out << "\n" << model << "\n";
    const std::vector<std::string> head = {"backend",  "batch", "threads", "latency ms", "cv %",
                                           "images/s", "GFLOP/s", "% peak", "speed-up",
                                           "verification"};
    const std::vector<size_t> width = {16, 6, 8, 11, 6, 9, 8, 7, 9, 0};
    for (size_t i = 0; i < head.size(); ++i) {
      out << (i ? "  " : "") << pad(head[i], width[i], i == 0 || i + 1 == head.size());
    }
    out << "\n";
    std::map<std::pair<size_t, size_t>, double> slowest;
    for (const auto& [key, row] : rows) {
      if (row.backend == "reference" || row.backend.rfind("peer:", 0) == 0 || !row.error.empty() ||
          row.ms <= 0) {
        continue;
      }
      double& s = slowest[{row.batch, row.threads}];
      s = std::max(s, row.ms);
    }
    std::vector<Row> ordered;
    for (const auto& [key, row] : rows) ordered.push_back(row);
    std::sort(ordered.begin(), ordered.end(), [](const Row& a, const Row& b) {
      return std::tie(a.batch, a.threads, a.ms, a.backend) <
             std::tie(b.batch, b.threads, b.ms, b.backend);
    });
    for (const Row& r : ordered) {
      std::vector<std::string> cells = {r.backend, std::to_string(r.batch),
                                        std::to_string(r.threads)};
      if (!r.error.empty()) {
        cells.insert(cells.end(), {"error", "", "", "", "", ""});
      } else {
        const double s = slowest.count({r.batch, r.threads}) ? slowest[{r.batch, r.threads}] : 0;
        cells.push_back(fixed(r.ms, r.ms < 10 ? 3 : 1));
        cells.push_back(r.cv >= 0 ? fixed(r.cv, 1) : "-");
        cells.push_back(fixed(r.images, r.images < 10 ? 2 : 1));
        cells.push_back(fixed(r.gflops, 1));
        cells.push_back(fixed(r.peak, 1));
        cells.push_back(r.backend == "reference" || s <= 0 ? "-" : fixed(s / r.ms, 2) + "x");
      }
      cells.push_back(verdict(r.backend) + (r.error.empty() ? "" : ": " + r.error));
      for (size_t i = 0; i < cells.size(); ++i) {
        out << (i ? "  " : "") << pad(cells[i], width[i], i == 0 || i + 1 == cells.size());
      }
      out << "\n";
    }
    // Our fastest backend against each peer, per batch and threads: the race in one line.
    for (const Row& peer : ordered) {
      if (peer.backend.rfind("peer:", 0) != 0 || !peer.error.empty() || peer.ms <= 0) continue;
      const Row* best = nullptr;
      for (const Row& r : ordered) {
        if (r.batch != peer.batch || r.threads != peer.threads || r.backend == "reference" ||
            r.backend.rfind("peer:", 0) == 0 || !r.error.empty() || r.ms <= 0) {
          continue;
        }
        if (!best || r.ms < best->ms) best = &r;
      }
      if (!best) continue;
      out << "  b" << peer.batch << " t" << peer.threads << ": " << best->backend << " takes "
          << fixed(100.0 * best->ms / peer.ms, 0) << "% of " << peer.backend << "'s time ("
          << fixed(peer.ms / best->ms, 2) << "x as fast)\n";
    }
  }
  // Backends that were not timed because they failed verification: their figures are in the
  // report; here, one line each with the reason.
  if (ctx && ctx->contains("verification")) {
    for (const nlohmann::json& v : (*ctx)["verification"]) {
      if (v.value("passed", false)) continue;
      out << "\n" << v.value("backend", std::string("?")) << ": FAILED verification ("
          << v.value("source", std::string()) << "), not timed";
      for (const nlohmann::json& c : v.value("cases", nlohmann::json::array())) {
        if (c.value("passed", false)) continue;
        out << "\n  " << c.value("case", std::string("case"));
        if (c.contains("error")) out << ": " << c["error"].get<std::string>();
        if (c.contains("logits") && c["logits"].contains("max_rel_error")) {
          out << ": max rel error " << c["logits"]["max_rel_error"].dump();
        }
        if (c.contains("first_failing_tap") && !c["first_failing_tap"].is_null()) {
          out << ", first failing tap " << c["first_failing_tap"].get<std::string>();
        }
      }
      out << "\n";
    }
  }
  if (tables.empty()) out << "\n(no whole-model benchmarks in this run)\n";
  if (!notes.empty()) out << "\n";
  for (const std::string& n : notes) out << n << "\n";
  return out.str();
}

}  // namespace vitbench::bench
