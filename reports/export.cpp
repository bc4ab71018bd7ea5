#include "reports/export.h"

#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "reports/compare.h"
#include "reports/format.h"

namespace vitbench::reports {
namespace {

using nlohmann::json;

std::string extra_of(const Report& r, const Benchmark& b) {
  std::string extra = "machine: " + r.machine.label() + "\ncommit: " + r.short_commit() +
                      "\nrepetitions: " + std::to_string(b.times_ns.size());
  if (const auto p = percent_of_peak(r, b)) extra += "\n% of peak: " + format_number(*p, 3);
  if (!r.date.empty()) extra += "\ndate: " + r.date;
  return extra;
}

json gab_entry(const Report& r, const Benchmark& b, bool bigger, std::vector<std::string>& notes) {
  const std::string name = b.name + " [" + machine_column(r, b) + "]";
  if (!bigger) {
    // The benchmark's own unit, so values stay readable and stable across commits.
    const double scale = ns_per(b.unit);
    json e = {{"name", name}, {"unit", unit_name(b.unit)}, {"value", *b.median_ns() / scale}};
    if (const auto s = b.spread_ns()) {
      e["range"] = "± " + format_number(0.5 * (s->second - s->first) / scale, 4);
    }
    e["extra"] = extra_of(r, b);
    return e;
  }
  const auto g = b.counter("GFLOP/s");
  if (!g) {
    notes.push_back(r.path + ": " + b.name + " has no GFLOP/s counter; left out");
    return nullptr;
  }
  json e = {{"name", name}, {"unit", "GFLOP/s"}, {"value", *g}};
  if (const auto s = b.counter_spread("GFLOP/s")) {
    e["range"] = "± " + format_number(0.5 * (s->second - s->first), 4);
  }
  e["extra"] = extra_of(r, b);
  return e;
}

json bmf_metric(double value, const std::optional<std::pair<double, double>>& spread) {
  json m = {{"value", value}};
  if (spread) {
    m["lower_value"] = spread->first;
    m["upper_value"] = spread->second;
  }
  return m;
}

}  // namespace

std::optional<ExportFormat> parse_export_format(std::string_view name) {
  if (name == "gab-smaller") return ExportFormat::GabSmaller;
  if (name == "gab-bigger") return ExportFormat::GabBigger;
  if (name == "bmf") return ExportFormat::Bmf;
  return std::nullopt;
}

json export_reports(const std::vector<Report>& reports, ExportFormat format,
                    std::vector<std::string>& notes) {
  for (const Report& r : reports) {
    for (const std::string& n : r.notes) notes.push_back(r.path + ": " + n);
  }
  if (format == ExportFormat::Bmf) {
    std::set<std::string> machines;
    for (const Report& r : reports) machines.insert(r.machine.key);
    if (machines.size() > 1) {
      core::fail(reports.back().path,
                 "BMF holds one testbed, and these reports come from " +
                     std::to_string(machines.size()) +
                     " machines; export each machine's reports separately");
    }
    json out = json::object();
    for (size_t i : chronological_order(reports)) {
      const Report& r = reports[i];
      for (const Benchmark& b : r.benchmarks) {
        if (b.failed()) {
          notes.push_back(r.path + ": " + b.name + " failed to run (" + b.error + "); left out");
          continue;
        }
        if (out.contains(b.name)) {
          notes.push_back(r.path + ": " + b.name + " also in an earlier report; the later one is kept");
        }
        json measures = {{"latency", bmf_metric(*b.median_ns(), b.spread_ns())}};
        if (const auto g = b.counter("GFLOP/s")) {
          measures["gflops"] = bmf_metric(*g, b.counter_spread("GFLOP/s"));
        }
        out[b.name] = measures;
      }
    }
    return out;
  }
  // The action records one value per name per run, so a machine's later report replaces its
  // earlier one.
  json out = json::array();
  std::map<std::string, size_t> position;
  const bool bigger = format == ExportFormat::GabBigger;
  for (size_t i : chronological_order(reports)) {
    const Report& r = reports[i];
    for (const Benchmark& b : r.benchmarks) {
      if (b.failed()) {
        notes.push_back(r.path + ": " + b.name + " failed to run (" + b.error + "); left out");
        continue;
      }
      json e = gab_entry(r, b, bigger, notes);
      if (e.is_null()) continue;
      const std::string name = e["name"].get<std::string>();
      auto [it, fresh] = position.try_emplace(name, out.size());
      if (fresh) {
        out.push_back(std::move(e));
      } else {
        notes.push_back(r.path + ": " + name + " also in an earlier report; the later one is kept");
        out[it->second] = std::move(e);
      }
    }
  }
  return out;
}

}  // namespace vitbench::reports
