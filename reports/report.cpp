#include "reports/report.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "core/error.h"
#include "core/json_file.h"
#include "core/scheduling.h"
#include "reports/stats.h"

namespace vitbench::reports {
namespace {

using nlohmann::json;
using core::fail;

// A GitHub runner's report of a few thousand benchmarks is a few MB; this only stops a stray
// multi-GB file from being read into memory.
constexpr size_t kMaxReportBytes = size_t(64) << 20;

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::binary: return "binary";
    case json::value_t::discarded: return "discarded";
    default: return "a number";
  }
}

bool is_nonfinite_token(const json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  return s == "NaN" || s == "Infinity" || s == "-Infinity";
}

// Field access that names what is wrong. `ctx` is the place inside the file
// ("benchmarks[3] (model/vit-b16@224/b1/t2/hwy)"), `where` the file.
struct Fields {
  const std::string& where;

  [[noreturn]] void wrong(const std::string& ctx, const std::string& key, const std::string& what) const {
    std::string message = ctx.empty() ? "" : ctx + ": ";
    message += key.empty() ? what : key + " " + what;
    fail(where, message);
  }

  const json* find(const json& obj, const char* key) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
  }

  const json* object(const json& obj, const char* key, const std::string& ctx) const {
    const json* v = find(obj, key);
    if (v && !v->is_object()) wrong(ctx, key, std::string("must be an object, not ") + type_name(*v));
    return v;
  }

  const json* array(const json& obj, const char* key, const std::string& ctx) const {
    const json* v = find(obj, key);
    if (v && !v->is_array()) wrong(ctx, key, std::string("must be an array, not ") + type_name(*v));
    return v;
  }

  std::optional<std::string> string(const json& obj, const char* key, const std::string& ctx) const {
    const json* v = find(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_string()) wrong(ctx, key, std::string("must be a string, not ") + type_name(*v));
    return v->get<std::string>();
  }

  std::optional<bool> boolean(const json& obj, const char* key, const std::string& ctx) const {
    const json* v = find(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) wrong(ctx, key, std::string("must be true or false, not ") + type_name(*v));
    return v->get<bool>();
  }

  // Numbers may be non-finite (read from a NaN token) only where `allow_nonfinite`.
  std::optional<double> number(const json& obj, const char* key, const std::string& ctx,
                               bool allow_nonfinite) const {
    const json* v = find(obj, key);
    if (!v) return std::nullopt;
    if (is_nonfinite_token(*v)) {
      if (!allow_nonfinite) wrong(ctx, key, "is " + v->get<std::string>() + ", not a number");
      const auto& s = v->get_ref<const std::string&>();
      return s == "NaN" ? NAN : (s[0] == '-' ? -INFINITY : INFINITY);
    }
    if (!v->is_number()) wrong(ctx, key, std::string("must be a number, not ") + type_name(*v));
    return v->get<double>();
  }

  std::optional<int64_t> integer(const json& obj, const char* key, const std::string& ctx) const {
    const json* v = find(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) {
      const bool whole = v->is_number_float() && std::isfinite(v->get<double>()) &&
                         v->get<double>() == std::floor(v->get<double>()) &&
                         std::fabs(v->get<double>()) < 9e15;
      if (!whole) wrong(ctx, key, std::string("must be an integer, not ") + (is_nonfinite_token(*v) ? v->get<std::string>() : type_name(*v)));
      return static_cast<int64_t>(v->get<double>());
    }
    return v->get<int64_t>();
  }
};

std::optional<int> parse_positive(std::string_view digits) {
  if (digits.empty() || digits.size() > 6) return std::nullopt;
  int value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || value <= 0) return std::nullopt;
  return value;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return parts;
    start = at + 1;
  }
}

bool is_gbench_suffix(const std::string& part) {
  static const char* const kExact[] = {"real_time", "manual_time", "process_time"};
  for (const char* e : kExact) {
    if (part == e) return true;
  }
  static const char* const kPrefixed[] = {"repeats:", "min_time:", "min_warmup_time:",
                                          "iterations:", "threads:"};
  for (const char* p : kPrefixed) {
    if (part.rfind(p, 0) == 0 && part.size() > std::char_traits<char>::length(p)) return true;
  }
  return false;
}

std::map<int, double> per_thread_table(const Fields& f, const json& peak, const char* key,
                                       const std::string& ctx) {
  std::map<int, double> table;
  const json* obj = f.object(peak, key, ctx);
  if (!obj) return table;
  for (auto it = obj->begin(); it != obj->end(); ++it) {
    const auto threads = parse_positive(it.key());
    if (!threads) f.wrong(ctx + "." + key, "key \"" + it.key() + "\"", "is not a thread count");
    const auto value = f.number(*obj, it.key().c_str(), ctx + "." + key, false);
    if (!value) continue;
    if (!(*value > 0)) f.wrong(ctx + "." + key, it.key(), "must be positive");
    table[*threads] = *value;
  }
  return table;
}

void read_verification(const Fields& f, const json& vit, Report& r) {
  const json* list = f.array(vit, "verification", "context.vitbench");
  if (!list) return;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& e = (*list)[i];
    const std::string ctx = "context.vitbench.verification[" + std::to_string(i) + "]";
    if (!e.is_object()) f.wrong(ctx, "", std::string("must be an object, not ") + type_name(e));
    Verification v;
    const auto backend = f.string(e, "backend", ctx);
    if (!backend || backend->empty()) {
      r.notes.push_back(ctx + " names no backend; skipped");
      continue;
    }
    v.backend = *backend;
    v.passed = f.boolean(e, "passed", ctx);
    v.source = f.string(e, "source", ctx).value_or("");
    if (const json* cases = f.array(e, "cases", ctx)) {
      for (size_t c = 0; c < cases->size(); ++c) {
        const json& ce = (*cases)[c];
        const std::string cctx = ctx + ".cases[" + std::to_string(c) + "]";
        if (!ce.is_object()) f.wrong(cctx, "", std::string("must be an object, not ") + type_name(ce));
        VerificationCase vc;
        vc.name = f.string(ce, "case", cctx).value_or("case " + std::to_string(c));
        vc.passed = f.boolean(ce, "passed", cctx);
        vc.first_failing_tap = f.string(ce, "first_failing_tap", cctx).value_or("");
        if (const json* logits = f.object(ce, "logits", cctx)) {
          for (auto it = logits->begin(); it != logits->end(); ++it) {
            // A backend whose logits went NaN must show up as an accuracy regression, so
            // non-finite metrics are kept rather than refused; the harness writes them as null
            // ("not finite"), Google Benchmark-style writers as NaN.
            if (it->is_null()) {
              vc.logits[it.key()] = NAN;
              continue;
            }
            if (!it->is_number() && !is_nonfinite_token(*it)) continue;  // text, e.g. a label
            const auto value = f.number(*logits, it.key().c_str(), cctx + ".logits", true);
            if (value) vc.logits[it.key()] = *value;
          }
        }
        v.cases.push_back(std::move(vc));
      }
    }
    r.verification.push_back(std::move(v));
  }
}

void read_context(const Fields& f, const json& root, Report& r) {
  const json* context = f.object(root, "context", "");
  if (!context) {
    r.notes.push_back("no context: machine and commit unknown");
    r.machine.key = "unknown machine";
    return;
  }
  r.date = f.string(*context, "date", "context").value_or("");
  r.epoch = parse_iso8601(r.date);
  const json* vit = f.object(*context, "vitbench", "context");
  if (!vit) {
    // Plain Google Benchmark output still compares by name; its host names the series.
    r.notes.push_back("no context.vitbench: CPU, threads, peak and verification unknown");
    const auto host = f.string(*context, "host_name", "context");
    r.machine.key = host && !host->empty() ? "unknown CPU (host " + *host + ")" : "unknown machine";
    return;
  }
  r.has_vitbench = true;
  const std::string ctx = "context.vitbench";
  if (const json* cpu = f.object(*vit, "cpu", ctx)) {
    r.machine.cpu_model = f.string(*cpu, "model", ctx + ".cpu").value_or("");
  }
  if (const json* hwy = f.object(*vit, "highway", ctx)) {
    r.machine.target = f.string(*hwy, "chosen_target", ctx + ".highway").value_or("");
  }
  if (const auto threads = f.integer(*vit, "threads", ctx)) {
    if (*threads <= 0 || *threads > 1'000'000) f.wrong(ctx, "threads", "must be a positive count");
    r.machine.threads = static_cast<int>(*threads);
  }
  if (const json* git = f.object(*vit, "git", ctx)) {
    r.commit = f.string(*git, "commit", ctx + ".git").value_or("");
    r.dirty = f.boolean(*git, "dirty", ctx + ".git").value_or(false);
  }
  if (const json* peak = f.object(*vit, "peak", ctx)) {
    r.machine.peak_gflops = per_thread_table(f, *peak, "fma_gflops", ctx + ".peak");
    r.machine.bandwidth_gbs = per_thread_table(f, *peak, "bandwidth_gbs", ctx + ".peak");
  }
  r.machine.key = f.string(*vit, "machine_key", ctx).value_or("");
  if (r.machine.key.empty()) r.machine.key = r.machine.label();
  if (const json* sched = f.object(*vit, "scheduling", ctx)) {
    // Times stretched by the real-time throttle could read as a regression: say so.
    const std::string sctx = ctx + ".scheduling";
    core::SchedulingInfo s;
    s.policy = f.string(*sched, "policy", sctx).value_or("");
    s.rt_runtime_us = f.integer(*sched, "rt_runtime_us", sctx).value_or(0);
    s.rt_period_us = f.integer(*sched, "rt_period_us", sctx).value_or(0);
    const std::string note = core::rt_throttle_note(s);
    if (!note.empty()) r.notes.push_back("scheduling: " + note);
  }
  read_verification(f, *vit, r);
}

// The standard fields of a Google Benchmark run; every other numeric key is a user counter.
bool is_standard_field(const std::string& key) {
  static const char* const kFields[] = {
      "name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
      "repetition_index", "iterations", "real_time", "cpu_time", "time_unit", "aggregate_name",
      "aggregate_unit", "error_occurred", "error_message", "skipped", "skip_message", "label",
      "big_o", "rms", "cpu_coefficient", "real_coefficient", "complexity"};
  for (const char* f : kFields) {
    if (key == f) return true;
  }
  return false;
}

void read_benchmarks(const Fields& f, const json& list, Report& r) {
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& e = list[i];
    std::string ctx = "benchmarks[" + std::to_string(i) + "]";
    if (!e.is_object()) f.wrong(ctx, "", std::string("must be an object, not ") + type_name(e));
    const auto name = f.string(e, "name", ctx);
    if (!name || name->empty()) {
      r.notes.push_back(ctx + " has no name; skipped");
      continue;
    }
    ctx += " (" + *name + ")";
    const std::string run_type = f.string(e, "run_type", ctx).value_or("iteration");
    const auto aggregate = f.string(e, "aggregate_name", ctx);
    std::string run_name = f.string(e, "run_name", ctx).value_or("");
    if (run_name.empty()) {
      run_name = *name;
      const std::string suffix = aggregate ? "_" + *aggregate : "";
      if (run_type == "aggregate" && !suffix.empty() && run_name.size() > suffix.size() &&
          run_name.compare(run_name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        run_name.resize(run_name.size() - suffix.size());
      }
    }
    if (run_type != "iteration" && run_type != "aggregate") {
      r.notes.push_back(ctx + ": unknown run_type \"" + run_type + "\"; skipped");
      continue;
    }
    const std::string key = strip_gbench_suffixes(run_name);
    auto [it, inserted] = index.try_emplace(key, r.benchmarks.size());
    if (inserted) {
      Benchmark b;
      b.name = key;
      b.id = parse_bench_name(key);
      r.benchmarks.push_back(std::move(b));
    }
    Benchmark& b = r.benchmarks[it->second];

    const bool errored = f.boolean(e, "error_occurred", ctx).value_or(false);
    // Google Benchmark 1.8 writes "skipped" for SkipWithMessage; either way it has no timing.
    const json* skipped = f.find(e, "skipped");
    if (errored || (skipped && skipped->is_boolean() && skipped->get<bool>())) {
      std::string message = f.string(e, "error_message", ctx).value_or("");
      if (message.empty()) message = f.string(e, "skip_message", ctx).value_or("");
      b.error = message.empty() ? "failed to run" : message;
      continue;
    }
    // nlohmann and most JSON writers turn a NaN into null; for a timing that is the same failure.
    for (const char* timing : {"real_time", "cpu_time"}) {
      auto t = e.find(timing);
      if (t != e.end() && t->is_null()) {
        f.wrong(ctx, timing, "is null (a NaN timing, as JSON writers print it), not a number");
      }
    }
    const auto unit_text = f.string(e, "time_unit", ctx);
    const auto real_time = f.number(e, "real_time", ctx, false);
    if (!unit_text || !real_time) {
      r.notes.push_back(ctx + ": no " + std::string(!unit_text ? "time_unit" : "real_time") +
                        "; entry skipped");
      continue;
    }
    const auto unit = parse_time_unit(*unit_text);
    if (!unit) f.wrong(ctx, "time_unit", "\"" + *unit_text + "\" is not one of ns, us, ms, s");
    if (*real_time < 0) f.wrong(ctx, "real_time", "is negative");
    f.number(e, "cpu_time", ctx, false);  // refuses a NaN cpu_time too: the run is broken
    const double ns = *real_time * ns_per(*unit);

    std::map<std::string, double> counters;
    for (auto c = e.begin(); c != e.end(); ++c) {
      if (is_standard_field(c.key())) continue;
      if (!c->is_number() && !is_nonfinite_token(*c)) continue;  // strings such as labels
      const double v = *f.number(e, c.key().c_str(), ctx, true);
      if (!std::isfinite(v)) {
        if (run_type == "iteration") {
          r.notes.push_back(ctx + ": counter " + c.key() + " is not finite; dropped");
        }
        continue;
      }
      counters[c.key()] = v;
    }

    if (b.times_ns.empty() && !b.median_aggregate_ns) b.unit = *unit;
    if (run_type == "iteration") {
      b.times_ns.push_back(ns);
      for (const auto& [k, v] : counters) b.counters[k].push_back(v);
    } else if (aggregate && *aggregate == "median") {
      b.median_aggregate_ns = ns;
      b.median_aggregate_counters = counters;
    } else if (aggregate && *aggregate == "stddev") {
      b.stddev_aggregate_ns = ns;
    }
  }

  // Benchmarks that ended with no timing at all (only a mean, say) cannot be compared.
  std::vector<Benchmark> kept;
  for (Benchmark& b : r.benchmarks) {
    if (!b.failed() && !b.median_ns()) {
      r.notes.push_back(b.name + ": no repetitions and no median; skipped");
      continue;
    }
    kept.push_back(std::move(b));
  }
  r.benchmarks = std::move(kept);
}

}  // namespace

std::optional<TimeUnit> parse_time_unit(std::string_view text) {
  if (text == "ns") return TimeUnit::ns;
  if (text == "us") return TimeUnit::us;
  if (text == "ms") return TimeUnit::ms;
  if (text == "s") return TimeUnit::s;
  return std::nullopt;
}

double ns_per(TimeUnit unit) {
  switch (unit) {
    case TimeUnit::ns: return 1.0;
    case TimeUnit::us: return 1e3;
    case TimeUnit::ms: return 1e6;
    case TimeUnit::s: return 1e9;
  }
  return 1.0;
}

const char* unit_name(TimeUnit unit) {
  switch (unit) {
    case TimeUnit::ns: return "ns";
    case TimeUnit::us: return "us";
    case TimeUnit::ms: return "ms";
    case TimeUnit::s: return "s";
  }
  return "ns";
}

std::string BenchName::group() const {
  switch (kind) {
    case Kind::Model: return model + "/b" + std::to_string(batch);
    case Kind::Op: return op + "/" + model + "/" + shape;
    case Kind::Other: break;
  }
  return "";
}

BenchName parse_bench_name(const std::string& name) {
  BenchName id;
  const std::vector<std::string> p = split(name, '/');
  auto threads_of = [](const std::string& s) -> std::optional<int> {
    if (s.size() < 2 || s[0] != 't') return std::nullopt;
    return parse_positive(std::string_view(s).substr(1));
  };
  if (p.size() == 5 && p[0] == "model" && !p[1].empty() && !p[4].empty() && p[2].size() >= 2 &&
      p[2][0] == 'b') {
    const auto batch = parse_positive(std::string_view(p[2]).substr(1));
    const auto threads = threads_of(p[3]);
    if (batch && threads) {
      id.kind = BenchName::Kind::Model;
      id.model = p[1];
      id.batch = *batch;
      id.threads = *threads;
      id.backend = p[4];
    }
  } else if (p.size() == 6 && p[0] == "op" && !p[1].empty() && !p[2].empty() && !p[3].empty() &&
             !p[5].empty()) {
    if (const auto threads = threads_of(p[4])) {
      id.kind = BenchName::Kind::Op;
      id.op = p[1];
      id.model = p[2];
      id.shape = p[3];
      id.threads = *threads;
      id.backend = p[5];
    }
  }
  return id;
}

std::string strip_gbench_suffixes(std::string run_name) {
  while (true) {
    const size_t slash = run_name.rfind('/');
    if (slash == std::string::npos || !is_gbench_suffix(run_name.substr(slash + 1))) break;
    run_name.resize(slash);
  }
  return run_name;
}

std::optional<double> Benchmark::median_ns() const {
  if (!times_ns.empty()) return median(times_ns);
  return median_aggregate_ns;
}

std::optional<double> Benchmark::counter(const std::string& name) const {
  auto it = counters.find(name);
  if (it != counters.end() && !it->second.empty()) return median(it->second);
  auto agg = median_aggregate_counters.find(name);
  if (agg != median_aggregate_counters.end()) return agg->second;
  return std::nullopt;
}

std::optional<std::pair<double, double>> Benchmark::spread_ns() const {
  if (times_ns.size() >= 2) {
    const auto [lo, hi] = std::minmax_element(times_ns.begin(), times_ns.end());
    return std::make_pair(*lo, *hi);
  }
  if (median_aggregate_ns && stddev_aggregate_ns) {
    return std::make_pair(std::max(0.0, *median_aggregate_ns - *stddev_aggregate_ns),
                          *median_aggregate_ns + *stddev_aggregate_ns);
  }
  return std::nullopt;
}

std::optional<std::pair<double, double>> Benchmark::counter_spread(const std::string& name) const {
  auto it = counters.find(name);
  if (it == counters.end() || it->second.size() < 2) return std::nullopt;
  const auto [lo, hi] = std::minmax_element(it->second.begin(), it->second.end());
  return std::make_pair(*lo, *hi);
}

std::optional<double> Verification::worst_max_rel_error() const {
  std::optional<double> worst;
  for (const VerificationCase& c : cases) {
    auto it = c.logits.find("max_rel_error");
    if (it == c.logits.end()) continue;
    // NaN is the worst of all: a backend whose logits are NaN must not look accurate.
    if (std::isnan(it->second)) return it->second;
    if (!worst || it->second > *worst) worst = it->second;
  }
  return worst;
}

std::string Machine::label() const {
  return (cpu_model.empty() ? "?" : cpu_model) + " / " + (target.empty() ? "?" : target) +
         " / t" + (threads > 0 ? std::to_string(threads) : "?");
}

const Benchmark* Report::find(const std::string& name) const {
  for (const Benchmark& b : benchmarks) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

std::string Report::short_commit() const {
  if (commit.empty()) return "?";
  return commit.substr(0, 7) + (dirty ? "+dirty" : "");
}

nlohmann::json parse_report_text(const std::string& text, const std::string& where) {
  std::string clean;
  clean.reserve(text.size() + 64);
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      clean += c;
      if (c == '\\' && i + 1 < text.size()) {
        clean += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      clean += c;
      continue;
    }
    bool replaced = false;
    if (c != '-' && c != 'N' && c != 'I') {
      clean += c;
      continue;
    }
    for (const char* token : {"-Infinity", "Infinity", "-NaN", "NaN"}) {
      const size_t n = std::char_traits<char>::length(token);
      if (text.compare(i, n, token) == 0) {
        clean += '"';
        // Google Benchmark prints a negative NaN as -NaN; its sign means nothing.
        clean += token[1] == 'N' ? "NaN" : token;
        clean += '"';
        i += n - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) clean += c;
  }
  return core::parse_json_text(clean, where);
}

nlohmann::json read_report_json(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a folder, not a report file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open file");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) fail(path, "cannot read file size");
  if (static_cast<size_t>(size) > kMaxReportBytes) {
    fail(path, "file is " + std::to_string(size) + " bytes, more than the " +
                   std::to_string(kMaxReportBytes) + " allowed for a report");
  }
  in.seekg(0);
  std::string text(static_cast<size_t>(size), '\0');
  if (!in.read(text.data(), size)) fail(path, "cannot read file");
  return parse_report_text(text, path);
}

Report parse_report(const nlohmann::json& root, const std::string& where) {
  const Fields f{where};
  if (!root.is_object()) {
    fail(where, std::string("not a benchmark report: the top level is ") + type_name(root) +
                    ", not an object with \"benchmarks\"");
  }
  const json* list = f.array(root, "benchmarks", "");
  if (!list) fail(where, "not a benchmark report: no \"benchmarks\" array");
  Report r;
  r.path = where;
  read_context(f, root, r);
  read_benchmarks(f, *list, r);
  if (r.benchmarks.empty()) r.notes.push_back("no usable benchmarks");
  return r;
}

Report load_report(const std::string& path) { return parse_report(read_report_json(path), path); }

std::vector<std::string> expand_report_paths(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(p, ec);
    if (ec || !fs::exists(st)) fail(p, "no such file or folder");
    if (!fs::is_directory(st)) {
      files.push_back(p);
      continue;
    }
    std::vector<std::string> found;
    for (const fs::directory_entry& e : fs::directory_iterator(p, ec)) {
      std::error_code ec2;
      if (e.path().extension() == ".json" && e.is_regular_file(ec2)) found.push_back(e.path().string());
    }
    if (ec) fail(p, "cannot list folder: " + ec.message());
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

std::optional<int64_t> parse_iso8601(const std::string& date) {
  // YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|+HHMM]
  auto num = [&](size_t at, size_t n) -> std::optional<int> {
    if (at + n > date.size()) return std::nullopt;
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (date[i] < '0' || date[i] > '9') return std::nullopt;
      v = v * 10 + (date[i] - '0');
    }
    return v;
  };
  const auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2),
             s = num(17, 2);
  if (!y || !mo || !d || !h || !mi || !s || date.size() < 19 || date[4] != '-' || date[7] != '-' ||
      (date[10] != 'T' && date[10] != ' ') || date[13] != ':' || date[16] != ':') {
    return std::nullopt;
  }
  if (*mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 || *mi > 59 || *s > 60) return std::nullopt;
  size_t at = 19;
  if (at < date.size() && date[at] == '.') {
    ++at;
    while (at < date.size() && date[at] >= '0' && date[at] <= '9') ++at;
  }
  int64_t offset = 0;
  if (at < date.size()) {
    if (date[at] == 'Z' && at + 1 == date.size()) {
      // UTC
    } else if (date[at] == '+' || date[at] == '-') {
      const auto oh = num(at + 1, 2);
      const bool colon = at + 3 < date.size() && date[at + 3] == ':';
      const auto om = num(at + (colon ? 4 : 3), 2);
      if (!oh || !om || at + (colon ? 6 : 5) != date.size()) return std::nullopt;
      offset = (date[at] == '-' ? -1 : 1) * (int64_t(*oh) * 3600 + int64_t(*om) * 60);
    } else {
      return std::nullopt;
    }
  }
  // Days from civil (Howard Hinnant's algorithm).
  const int64_t yy = *y - (*mo <= 2);
  const int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
  const int64_t yoe = yy - era * 400;
  const int64_t doy = (153 * (*mo + (*mo > 2 ? -3 : 9)) + 2) / 5 + *d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = era * 146097 + doe - 719468;
  return days * 86400 + int64_t(*h) * 3600 + int64_t(*mi) * 60 + *s - offset;
}

}  // namespace vitbench::reports
