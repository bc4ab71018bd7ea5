#include "reports/validate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "reports/report.h"

namespace vitbench::reports {
namespace {

using nlohmann::json;

// %peak is GFLOP/s divided by a peak the harness also writes; they can differ only by the
// rounding of the stored peak. 1% still catches a peak taken at the wrong thread count (2x).
constexpr double kPeakAgreement = 0.01;

// "1".."999999" without a leading zero. (Hand-written: g++ 12's std::regex trips a false
// -Wmaybe-uninitialized under the sanitizers, and these patterns are trivial.)
bool is_count(const std::string& s) {
  if (s.empty() || s.size() > 6 || s[0] == '0') return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// `dims` positive decimal integers joined by 'x': "197x768".
bool is_shape(const std::string& s, size_t dims) {
  size_t count = 0, start = 0;
  while (true) {
    const size_t x = s.find('x', start);
    const std::string part = s.substr(start, x == std::string::npos ? std::string::npos : x - start);
    if (part.empty() || part[0] == '0' ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    ++count;
    if (x == std::string::npos) return count == dims;
    start = x + 1;
  }
}

std::string at(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

class Validator {
 public:
  explicit Validator(const std::string& where) : where_(where) {}

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    core::fail(where_, path.empty() ? what : path + ": " + what);
  }

  static std::string kind(const json& v) {
    if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      if (s == "NaN" || s == "Infinity" || s == "-Infinity") return s;
      return "a string";
    }
    if (v.is_null()) return "null";
    if (v.is_object()) return "an object";
    if (v.is_array()) return "an array";
    if (v.is_boolean()) return "a boolean";
    return "a number";
  }

  const json& member(const json& obj, const std::string& key, const std::string& path) const {
    auto it = obj.find(key);
    if (it == obj.end()) fail(path, "missing required field \"" + key + "\"");
    return *it;
  }

  const json& object(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = member(obj, key, path);
    if (!v.is_object()) fail(at(path, key), "must be an object, not " + kind(v));
    return v;
  }

  const json& array(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = member(obj, key, path);
    if (!v.is_array()) fail(at(path, key), "must be an array, not " + kind(v));
    return v;
  }

  std::string string(const json& obj, const std::string& key, const std::string& path,
                     bool non_empty = false) const {
    const json& v = member(obj, key, path);
    if (!v.is_string() || kind(v) != "a string") fail(at(path, key), "must be a string, not " + kind(v));
    std::string s = v.get<std::string>();
    if (non_empty && s.empty()) fail(at(path, key), "must not be empty");
    return s;
  }

  bool boolean(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = member(obj, key, path);
    if (!v.is_boolean()) fail(at(path, key), "must be true or false, not " + kind(v));
    return v.get<bool>();
  }

  double number_value(const json& v, const std::string& path) const {
    if (!v.is_number()) {
      fail(path, kind(v) == "a string" || !v.is_string() ? "must be a number, not " + kind(v)
                                                         : "is " + kind(v) + ", not a number");
    }
    const double d = v.get<double>();
    if (!std::isfinite(d)) fail(path, "is not finite");
    return d;
  }

  double number(const json& obj, const std::string& key, const std::string& path) const {
    return number_value(member(obj, key, path), at(path, key));
  }

  double non_negative(const json& obj, const std::string& key, const std::string& path) const {
    const double d = number(obj, key, path);
    if (d < 0) fail(at(path, key), "must not be negative");
    return d;
  }

  int64_t integer(const json& obj, const std::string& key, const std::string& path,
                  int64_t min) const {
    const json& v = member(obj, key, path);
    if (!v.is_number_integer()) fail(at(path, key), "must be an integer, not " + kind(v));
    const int64_t i = v.get<int64_t>();
    if (i < min) fail(at(path, key), "must be at least " + std::to_string(min));
    return i;
  }

  void optional_string(const json& obj, const std::string& key, const std::string& path) const {
    if (obj.contains(key)) string(obj, key, path);
  }

  std::map<int, double> per_thread(const json& peak, const std::string& key,
                                   const std::string& path) const {
    const json& table = object(peak, key, path);
    if (table.empty()) fail(at(path, key), "must have an entry per thread count");
    std::map<int, double> out;
    for (auto it = table.begin(); it != table.end(); ++it) {
      if (!is_count(it.key())) {
        fail(at(path, key), "key \"" + it.key() + "\" is not a thread count");
      }
      const double v = number_value(*it, at(path, key) + "." + it.key());
      if (!(v > 0)) fail(at(path, key) + "." + it.key(), "must be positive");
      out[std::stoi(it.key())] = v;
    }
    return out;
  }

 private:
  const std::string& where_;
};

struct Context {
  int threads = 0;
  std::map<int, double> peak;
  std::map<std::string, bool> verified;  // backend -> passed
};

Context check_vitbench(const Validator& v, const json& vit) {
  const std::string p = "context.vitbench";
  Context c;
  if (v.integer(vit, "version", p, 1) != 1) v.fail(p + ".version", "must be 1");

  const json& cpu = v.object(vit, "cpu", p);
  const std::string pc = p + ".cpu";
  v.string(cpu, "vendor", pc);
  const std::string model = v.string(cpu, "model", pc, true);
  for (const char* k : {"family", "model_id", "stepping"}) {
    if (cpu.contains(k)) v.integer(cpu, k, pc, 0);
  }
  v.integer(cpu, "cores", pc, 1);
  v.integer(cpu, "threads", pc, 1);
  const json& flags = v.array(cpu, "flags", pc);
  for (size_t i = 0; i < flags.size(); ++i) {
    if (!flags[i].is_string()) v.fail(pc + ".flags[" + std::to_string(i) + "]", "must be a string");
  }
  const json& caches = v.array(cpu, "caches", pc);
  for (size_t i = 0; i < caches.size(); ++i) {
    const std::string pi = pc + ".caches[" + std::to_string(i) + "]";
    if (!caches[i].is_object()) v.fail(pi, "must be an object");
    v.integer(caches[i], "level", pi, 1);
    v.string(caches[i], "type", pi);
    v.integer(caches[i], "size", pi, 1);
  }

  const json& hwy = v.object(vit, "highway", p);
  const std::string target = v.string(hwy, "chosen_target", p + ".highway", true);
  // compiled_targets, and supported_targets where the report has it (since --simd), are lists
  // of names that hold the chosen target.
  const auto require_listed = [&](const char* key) {
    const json& list = v.array(hwy, key, p + ".highway");
    bool listed = false;
    for (size_t i = 0; i < list.size(); ++i) {
      if (!list[i].is_string()) {
        v.fail(p + ".highway." + key + "[" + std::to_string(i) + "]", "must be a string");
      }
      listed = listed || list[i].get<std::string>() == target;
    }
    if (!listed) {
      v.fail(p + ".highway", "chosen_target \"" + target + "\" is not in " + key);
    }
  };
  require_listed("compiled_targets");
  if (hwy.contains("supported_targets")) require_listed("supported_targets");

  if (vit.contains("blis")) {
    const json& blis = v.object(vit, "blis", p);
    for (const char* k : {"version", "config", "threading"}) v.optional_string(blis, k, p + ".blis");
  }
  v.optional_string(vit, "blas_loaded", p);
  const json& build = v.object(vit, "build", p);
  for (const char* k : {"compiler", "flags", "build_type"}) v.string(build, k, p + ".build");
  const json& git = v.object(vit, "git", p);
  v.string(git, "commit", p + ".git", true);
  v.boolean(git, "dirty", p + ".git");
  c.threads = static_cast<int>(v.integer(vit, "threads", p, 1));
  v.string(vit, "os", p);
  if (vit.contains("scheduling")) {  // optional: older reports lack it
    const json& sched = v.object(vit, "scheduling", p);
    v.string(sched, "policy", p + ".scheduling", true);
    v.integer(sched, "priority", p + ".scheduling", 0);
    if (sched.contains("rt_runtime_us") || sched.contains("rt_period_us")) {
      v.integer(sched, "rt_runtime_us", p + ".scheduling", -1);
      v.integer(sched, "rt_period_us", p + ".scheduling", 1);
    }
  }
  const std::string key = v.string(vit, "machine_key", p, true);
  const std::string expected = model + "/" + target + "/t" + std::to_string(c.threads);
  if (key != expected) {
    v.fail(p + ".machine_key", "is \"" + key + "\", expected \"" + expected +
                                   "\" (cpu.model/highway.chosen_target/t<threads>)");
  }

  const json& peak = v.object(vit, "peak", p);
  c.peak = v.per_thread(peak, "fma_gflops", p + ".peak");
  v.per_thread(peak, "bandwidth_gbs", p + ".peak");
  if (!c.peak.count(c.threads)) {
    v.fail(p + ".peak.fma_gflops", "has no entry for the run's " + std::to_string(c.threads) +
                                       " threads");
  }

  const json& list = v.array(vit, "verification", p);
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string pv = p + ".verification[" + std::to_string(i) + "]";
    const json& e = list[i];
    if (!e.is_object()) v.fail(pv, "must be an object");
    const std::string backend = v.string(e, "backend", pv, true);
    const bool passed = v.boolean(e, "passed", pv);
    if (!c.verified.emplace(backend, passed).second) {
      v.fail(pv, "backend \"" + backend + "\" is listed twice");
    }
    v.optional_string(e, "source", pv);
    // The reference backend is the oracle: verified by definition, with no cases.
    const json& cases = v.array(e, "cases", pv);
    bool all_passed = true;
    for (size_t k = 0; k < cases.size(); ++k) {
      const std::string pk = pv + ".cases[" + std::to_string(k) + "]";
      const json& ce = cases[k];
      if (!ce.is_object()) v.fail(pk, "must be an object");
      v.string(ce, "case", pk, true);
      const bool case_passed = v.boolean(ce, "passed", pk);
      all_passed = all_passed && case_passed;
      const json& tap = v.member(ce, "first_failing_tap", pk);
      if (!tap.is_null() && !tap.is_string()) {
        v.fail(pk + ".first_failing_tap", "must be a tap name or null");
      }
      if (case_passed && !tap.is_null()) {
        v.fail(pk, "passed, yet names a first_failing_tap");
      }
      const json& logits = v.object(ce, "logits", pk);
      const std::string pl = pk + ".logits";
      // A failing case may have no finite figures (its logits can be NaN): null is allowed then.
      auto metric = [&](const char* k) -> bool {
        if (!case_passed && (!logits.contains(k) || logits[k].is_null())) return false;
        return true;
      };
      if (metric("max_rel_error")) v.non_negative(logits, "max_rel_error", pl);
      if (metric("nmse")) v.non_negative(logits, "nmse", pl);
      if (metric("cosine")) {
        const double cosine = v.number(logits, "cosine", pl);
        // A float64 cosine of near-identical vectors can round a hair above 1.
        if (cosine < -1 - 1e-9 || cosine > 1 + 1e-9) v.fail(pl + ".cosine", "must be within [-1, 1]");
      }
      const int64_t rows = v.integer(logits, "rows", pl, 1);
      if (metric("argmax_agree") && v.integer(logits, "argmax_agree", pl, 0) > rows) {
        v.fail(pl + ".argmax_agree", "is more than rows");
      }
    }
    if (passed && !all_passed) v.fail(pv, "passed, yet one of its cases failed");
  }
  if (vit.contains("peers")) {
    const json& peers = v.object(vit, "peers", p);
    for (auto it = peers.begin(); it != peers.end(); ++it) {
      if (!it->is_object()) v.fail(p + ".peers." + it.key(), "must be an object");
    }
  }
  return c;
}

void check_name(const Validator& v, const BenchName& id, const std::string& name,
                const std::string& path) {
  if (id.kind == BenchName::Kind::Other) {
    v.fail(path, "name \"" + name + "\" follows neither model/<model>/b<batch>/t<threads>/<backend>"
                 " nor op/<op>/<model>/<shape>/t<threads>/<backend>");
  }
  if (id.kind != BenchName::Kind::Op) return;
  const bool three = id.op == "linear" || id.op == "attention";
  if (!three && id.op != "layer_norm" && id.op != "gelu" && id.op != "softmax") {
    v.fail(path, "op \"" + id.op + "\" is not one of linear, layer_norm, gelu, softmax, attention");
  }
  if (!is_shape(id.shape, three ? 3 : 2)) {
    v.fail(path, "shape \"" + id.shape + "\" of " + id.op + " must be " +
                     (id.op == "linear" ? "MxNxK" : id.op == "attention" ? "<tokens>x<heads>x<head_dim>"
                                                                           : "<rows>x<cols>"));
  }
}

}  // namespace

void validate_report(const nlohmann::json& report, const std::string& where) {
  const Validator v(where);
  if (!report.is_object()) v.fail("", "a report must be a JSON object, not " + Validator::kind(report));
  const json& context = v.object(report, "context", "");
  v.string(context, "date", "context");
  const Context c = check_vitbench(v, v.object(context, "vitbench", "context"));

  const json& list = v.array(report, "benchmarks", "");
  if (list.empty()) v.fail("benchmarks", "must not be empty");
  std::set<std::string> backends_benchmarked;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& e = list[i];
    std::string p = "benchmarks[" + std::to_string(i) + "]";
    if (!e.is_object()) v.fail(p, "must be an object, not " + Validator::kind(e));
    const std::string name = v.string(e, "name", p, true);
    p += " (" + name + ")";
    const std::string run_name = v.string(e, "run_name", p, true);
    const std::string run_type = v.string(e, "run_type", p);
    if (run_type != "iteration" && run_type != "aggregate") {
      v.fail(p + ".run_type", "must be \"iteration\" or \"aggregate\", not \"" + run_type + "\"");
    }
    const std::string key = strip_gbench_suffixes(run_name);
    const BenchName id = parse_bench_name(key);
    check_name(v, id, key, p);
    if (e.contains("error_occurred") && v.boolean(e, "error_occurred", p)) {
      v.string(e, "error_message", p);
      continue;
    }
    if (!id.is_peer()) backends_benchmarked.insert(id.backend);
    if (!c.peak.count(id.threads)) {
      v.fail(p, "context.vitbench.peak.fma_gflops has no entry for its " +
                    std::to_string(id.threads) + " threads");
    }
    const std::string unit = v.string(e, "time_unit", p);
    if (!parse_time_unit(unit)) v.fail(p + ".time_unit", "\"" + unit + "\" is not one of ns, us, ms, s");
    v.integer(e, "iterations", p, 1);
    const double real_time = v.non_negative(e, "real_time", p);
    v.non_negative(e, "cpu_time", p);
    if (run_type == "aggregate") {
      const std::string aggregate = v.string(e, "aggregate_name", p, true);
      for (auto it = e.begin(); it != e.end(); ++it) {
        if (it->is_number() || (it->is_string() && Validator::kind(*it) != "a string")) {
          v.number_value(*it, p + "." + it.key());
        }
      }
      (void)aggregate;
      continue;
    }
    if (!(real_time > 0)) v.fail(p + ".real_time", "must be positive");
    const double gflops = v.non_negative(e, "GFLOP/s", p);
    const double percent = v.non_negative(e, "%peak", p);
    const double threads = v.number(e, "threads", p);
    if (threads != id.threads) {
      v.fail(p + ".threads", "counter is " + std::to_string(threads) + " but the name says t" +
                                 std::to_string(id.threads) +
                                 " (the suite's threads counter must follow Google Benchmark's own)");
    }
    if (id.kind == BenchName::Kind::Model) v.non_negative(e, "images/s", p);
    if (id.op == "layer_norm" || id.op == "gelu" || id.op == "softmax") {
      v.non_negative(e, "bytes_per_second", p);
    }
    const double expected = 100.0 * gflops / c.peak.at(id.threads);
    if (std::fabs(percent - expected) > kPeakAgreement * std::max(expected, 1e-9)) {
      v.fail(p + ".%peak", "is " + std::to_string(percent) + " but GFLOP/s over the measured peak at t" +
                               std::to_string(id.threads) + " gives " + std::to_string(expected));
    }
  }
  for (const auto& [backend, passed] : c.verified) {
    if (!passed && backends_benchmarked.count(backend)) {
      v.fail("benchmarks", "backend \"" + backend + "\" failed verification but has benchmarks");
    }
  }
  for (const std::string& backend : backends_benchmarked) {
    if (!c.verified.count(backend)) {
      v.fail("context.vitbench.verification", "has no entry for benchmarked backend \"" + backend + "\"");
    }
  }
}

}  // namespace vitbench::reports
