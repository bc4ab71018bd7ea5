// Peers and the per-op breakdown (issue 8). The peer tests run a fake runner (a stdlib-only
// Python script written here) that follows bench/peers/'s protocol, so they need neither PyTorch
// nor ONNX Runtime; one test runs the real PyTorch peer where /usr/bin/python3 has torch.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bench/breakdown.h"
#include "bench/harness.h"
#include "bench/peers.h"
#include "bench/summary.h"
#include "bench_test_util.h"
#include "core/config.h"
#include "core/error.h"
#include "core/flops.h"
#include "optimized/forward.h"
#include "optimized/kernel_set.h"
#include "reports/validate.h"

namespace vitbench::bench {
namespace {

using nlohmann::json;

// 5 tokens (a 2×2 grid of 16-px patches) through ViT-Ti's 12 blocks: a real preset, so the peers'
// seeded-weights path applies, yet the float64 reference verifies it in milliseconds.
const char* kPreset = "vit-ti16@32";

// What a peer is asked to match: the preset (weight seed 3), `batch` seeded images, and hwy's
// logits on them. Built in place: the request points into it.
struct PeerInputs {
  explicit PeerInputs(size_t batch)
      : model(load_model_under_test(kPreset, 3)),
        images(core::generate_images(model.model.config, batch, 1)),
        logits(find_bench_backend("hwy").prepare(model.model, 1)->forward(images, nullptr)) {}
  PeerRequest request() const {
    PeerRequest r;
    r.model = &model;
    r.weight_seed = 3;
    r.batch = images.dim(0);
    r.images = &images;
    r.expected_logits = &logits;
    r.checked_against = "hwy";
    return r;
  }
  const ModelUnderTest model;
  const core::Tensor images, logits;
};

// Follows bench/peers/peer_common.py's protocol. argv: MODE COPY_OF_REQUEST --request FILE.
const char* kFakeRunner = R"(import json, os, struct, sys
mode, copy = sys.argv[1], sys.argv[2]
path = sys.argv[sys.argv.index("--request") + 1]
req = json.load(open(path))
json.dump(req, open(copy, "w"))
if mode == "unavailable":
    print("fakert is not installed", file=sys.stderr)
    sys.exit(3)
if mode == "crash":
    print("Traceback (most recent call last):\nRuntimeError: boom", file=sys.stderr)
    sys.exit(1)
rows, labels = req["expected_logits"]["shape"]
raw = open(os.path.join(os.path.dirname(path), req["expected_logits"]["file"]), "rb").read()
vals = struct.unpack("<%df" % (len(raw) // 4), raw)
scale = max(abs(v) for v in vals)
if mode in ("mismatch", "liar"):
    vals = [v + 0.05 * scale * ((i % 7) - 3) for i, v in enumerate(vals)]
else:
    vals = [v * (1 + 1e-6) for v in vals]
res = {"peer": "fake", "version": "0.1", "runtime": "fake runtime", "load_seconds": 0.01,
       "check": {"passed": mode != "mismatch"},
       "logits": [list(vals[r * labels:(r + 1) * labels]) for r in range(rows)]}
if mode == "mismatch":
    print(json.dumps(res))
    sys.exit(4)
res["repetitions"] = [{"iterations": 4, "real_seconds": 0.04 + 0.004 * i, "cpu_seconds": 0.06}
                      for i in range(req["repetitions"])]
print("a runtime's chatter on stdout")
print(json.dumps(res))
)";

bool have_python3() { return std::system("python3 -c 'import json, struct' >/dev/null 2>&1") == 0; }

struct Fake {
  testing::TempDir& dir;
  std::string script() const {
    const std::string path = dir / "fake_peer.py";
    std::ofstream(path) << kFakeRunner;
    return path;
  }
  PeerSpec spec(const std::string& name, const std::string& mode) const {
    return {name, {"python3", script(), mode, dir / (name + "-request.json")}};
  }
};

Options preset_options(const std::string& reports_dir) {
  Options o;
  o.profile = "quick";
  o.models = std::vector<std::string>{kPreset};
  o.backends = std::vector<std::string>{"hwy"};
  o.threads = std::vector<size_t>{1};
  o.batches = std::vector<size_t>{2};
  o.ops = std::vector<std::string>{};
  o.repetitions = 3;
  o.min_time = 0.005;
  o.reports_dir = reports_dir;
  return o;
}

std::vector<json> entries_of(const json& report, const std::string& backend) {
  std::vector<json> out;
  for (const json& b : report["benchmarks"]) {
    ParsedName p;
    if (parse_benchmark_name(b["name"], &p) && p.backend == backend) out.push_back(b);
  }
  return out;
}

// ---- Parsing a runner's result and turning it into report entries ------------------------------

TEST(PeerEntries, OnePerRepetitionPlusAggregatesWithOurCounters) {
  const ModelUnderTest m = load_model_under_test(kPreset, 0);
  const core::Tensor images = core::generate_images(m.model.config, 1, 1);
  core::Tensor logits({1, 4});
  for (size_t i = 0; i < 4; ++i) logits[i] = static_cast<float>(i) - 1.5f;
  PeerRequest request;
  request.model = &m;
  request.batch = 1;
  request.threads = 2;
  request.images = &images;
  request.expected_logits = &logits;
  request.checked_against = "hwy";
  const json out = {{"version", "9.9"},
                    {"runtime", "rt"},
                    {"check", {{"passed", true}}},
                    {"logits", {{-1.5, -0.5, 0.5, 1.5}}},
                    {"repetitions",
                     {{{"iterations", 2}, {"real_seconds", 0.02}, {"cpu_seconds", 0.04}},
                      {{"iterations", 2}, {"real_seconds", 0.04}, {"cpu_seconds", 0.08}},
                      {{"iterations", 1}, {"real_seconds", 0.015}, {"cpu_seconds", 0.03}}}}};
  const PeerSpec spec{"torch", {"unused"}};
  const PeerRun run = interpret_peer_output(spec, request, 0, "noise\n" + out.dump() + "\n", "");
  ASSERT_EQ(run.status, PeerStatus::Timed) << run.message;
  EXPECT_EQ(run.version, "9.9");
  EXPECT_EQ(run.max_rel_error, 0.0);
  ASSERT_EQ(run.repetitions.size(), 3u);

  const double flops = 4e9;  // 4 GFLOP per forward
  const json entries = peer_benchmark_entries(run, flops, 200.0, 7);
  ASSERT_EQ(entries.size(), 3u + 4u);
  const std::string name = std::string("model/") + m.id + "/b1/t2/peer:torch/repeats:3";
  const double ms[] = {10, 20, 15};
  for (size_t i = 0; i < 3; ++i) {
    const json& e = entries[i];
    EXPECT_EQ(e["name"], name);
    EXPECT_EQ(e["run_type"], "iteration");
    EXPECT_EQ(e["family_index"], 7);
    EXPECT_EQ(e["repetition_index"], i);
    EXPECT_EQ(e["label"], "peer:torch 9.9");
    EXPECT_EQ(e["time_unit"], "ms");
    EXPECT_NEAR(e["real_time"].get<double>(), ms[i], 1e-9);
    EXPECT_NEAR(e["cpu_time"].get<double>(), 2 * ms[i], 1e-9);
    EXPECT_NEAR(e["GFLOP/s"].get<double>(), 4.0 / (ms[i] * 1e-3), 1e-6);
    EXPECT_NEAR(e["%peak"].get<double>(), 100.0 * 4.0 / (ms[i] * 1e-3) / 200.0, 1e-6);
    EXPECT_NEAR(e["images/s"].get<double>(), 1.0 / (ms[i] * 1e-3), 1e-6);
    EXPECT_EQ(e["threads"].get<double>(), 2.0);
  }
  std::map<std::string, json> aggregates;
  for (size_t i = 3; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i]["run_type"], "aggregate");
    EXPECT_EQ(entries[i]["run_name"], name);
    aggregates[entries[i]["aggregate_name"]] = entries[i];
  }
  ASSERT_EQ(aggregates.size(), 4u);
  EXPECT_EQ(aggregates["median"]["name"], name + "_median");
  EXPECT_NEAR(aggregates["median"]["real_time"].get<double>(), 15, 1e-9);
  EXPECT_NEAR(aggregates["mean"]["real_time"].get<double>(), 15, 1e-9);
  EXPECT_NEAR(aggregates["stddev"]["real_time"].get<double>(), 5, 1e-9);  // sample stddev
  EXPECT_NEAR(aggregates["cv"]["real_time"].get<double>(), 5.0 / 15.0, 1e-9);
  EXPECT_EQ(aggregates["cv"]["aggregate_unit"], "percentage");
  EXPECT_EQ(aggregates["median"]["threads"].get<double>(), 2.0);

  // One repetition: no aggregates, as Google Benchmark.
  PeerRun one = run;
  one.repetitions.resize(1);
  EXPECT_EQ(peer_benchmark_entries(one, flops, 200.0, 0).size(), 1u);
}

TEST(PeerEntries, ARunnerIsNeverTakenAtItsWord) {
  const ModelUnderTest m = load_model_under_test(kPreset, 0);
  const core::Tensor images = core::generate_images(m.model.config, 1, 1);
  core::Tensor logits({1, 4});
  for (size_t i = 0; i < 4; ++i) logits[i] = static_cast<float>(i) - 1.5f;
  PeerRequest request;
  request.model = &m;
  request.images = &images;
  request.expected_logits = &logits;
  const PeerSpec spec{"x", {"unused"}};
  const json reps = {{{"iterations", 1}, {"real_seconds", 0.01}}};
  auto run = [&](int code, const json& out, const std::string& err = "") {
    return interpret_peer_output(spec, request, code, out.is_null() ? "" : out.dump(), err);
  };
  // Claims a pass, but its logits are 10% off: refused, and its times are dropped.
  PeerRun liar = run(0, {{"logits", {{-1.5, -0.5, 0.5, 1.35}}}, {"repetitions", reps}});
  EXPECT_EQ(liar.status, PeerStatus::Mismatch);
  EXPECT_TRUE(liar.repetitions.empty());
  EXPECT_NE(liar.message.find("max rel error 1.00e-01"), std::string::npos) << liar.message;
  EXPECT_TRUE(peer_benchmark_entries(liar, 1e9, 100, 0).empty());
  // Wrong shape, no logits, no JSON, a crash, non-positive times, unavailable.
  EXPECT_EQ(run(0, {{"logits", {{1, 2}}}, {"repetitions", reps}}).status, PeerStatus::Mismatch);
  EXPECT_EQ(run(0, {{"repetitions", reps}}).status, PeerStatus::Mismatch);
  EXPECT_EQ(run(0, json()).status, PeerStatus::Failed);
  const PeerRun crash = run(1, json(), "Traceback\nRuntimeError: boom\n");
  EXPECT_EQ(crash.status, PeerStatus::Failed);
  EXPECT_EQ(crash.message, "exit code 1: RuntimeError: boom");
  EXPECT_EQ(run(0, {{"logits", {{-1.5, -0.5, 0.5, 1.5}}},
                    {"repetitions", {{{"iterations", 1}, {"real_seconds", 0}}}}})
                .status,
            PeerStatus::Failed);
  const PeerRun missing = run(3, json(), "warning: something\nnot installed here\n");
  EXPECT_EQ(missing.status, PeerStatus::Unavailable);
  EXPECT_EQ(missing.message, "not installed here");
}

// ---- Peers in a whole run ---------------------------------------------------------------------

TEST(BenchPeers, AFakePeerJoinsTheReportBesideOurBackends) {
  if (!have_python3()) GTEST_SKIP() << "SKIPPED: the fake peer runner needs python3";
  testing::TempDir dir;
  const Fake fake{dir};
  testing::Quiet quiet;
  Hooks hooks = quiet.hooks();
  hooks.extra_peers.push_back(fake.spec("fake", "match"));
  Options options = preset_options(dir.path());
  options.seed = 5;
  options.peers = {"fake"};
  const Outcome outcome = run_bench(options, hooks);
  EXPECT_EQ(outcome.exit_code, 0) << quiet.log.str() << quiet.out.str();

  // The runner was asked for the model, seed, input and threads of our own benchmark.
  const json request = json::parse(testing::read_text(dir / "fake-request.json"));
  EXPECT_EQ(request["model"], "vit-ti16@32");
  EXPECT_EQ(request["weight_seed"], 5);
  EXPECT_EQ(request["batch"], 2);
  EXPECT_EQ(request["threads"], 1);
  EXPECT_EQ(request["repetitions"], 3);
  EXPECT_EQ(request["tolerance"], 2e-3);
  EXPECT_EQ(request["config"]["hidden_size"], 192);
  EXPECT_EQ(request["expected_logits"]["computed_by"], "hwy");
  EXPECT_EQ(request["images"]["shape"], json({2, 3, 32, 32}));

  const json report = json::parse(testing::read_text(outcome.report_path));
  EXPECT_NO_THROW(reports::validate_report(report, outcome.report_path));
  const std::vector<json> peer = entries_of(report, "peer:fake");
  ASSERT_EQ(peer.size(), 3u + 4u);
  const std::vector<json> ours = entries_of(report, "hwy");
  ASSERT_EQ(ours.size(), peer.size()) << "the same repetitions and aggregates as ours";
  const double flops = 2 * core::flops::model_per_image(core::preset_config(kPreset));
  for (size_t i = 0; i < peer.size(); ++i) {
    EXPECT_EQ(peer[i]["run_type"], ours[i]["run_type"]);
    std::string name = ours[i]["name"];
    name.replace(name.find("/hwy/"), 5, "/peer:fake/");
    EXPECT_EQ(peer[i]["name"], name);
    EXPECT_EQ(peer[i]["label"], "peer:fake 0.1");
    for (const char* counter : {"GFLOP/s", "%peak", "images/s", "threads"}) {
      EXPECT_TRUE(peer[i].contains(counter)) << counter;
    }
    if (peer[i]["run_type"] == "iteration") {
      const double seconds = peer[i]["real_time"].get<double>() * 1e-3;
      EXPECT_NEAR(peer[i]["GFLOP/s"].get<double>(), flops * 1e-9 / seconds, 1e-6);
      EXPECT_NEAR(peer[i]["real_time"].get<double>(),
                  (10.0 + peer[i]["repetition_index"].get<double>()), 1e-9);
    }
  }
  const json& ctx = report["context"]["vitbench"]["peers"]["fake"];
  EXPECT_EQ(ctx["version"], "0.1");
  EXPECT_TRUE(ctx["passed"].get<bool>());
  EXPECT_LT(ctx["checked_max_rel_error"].get<double>(), 1e-5);
  EXPECT_EQ(ctx["checked_against"], "hwy");
  EXPECT_EQ(ctx["runs"][0]["status"], "timed");

  const std::string summary = quiet.out.str();
  EXPECT_NE(summary.find("peer:fake"), std::string::npos) << summary;
  EXPECT_NE(summary.find("x as fast)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("peer, logits within"), std::string::npos) << summary;
}

TEST(BenchPeers, APeerWhoseLogitsDifferIsRefusedAndNotTimed) {
  if (!have_python3()) GTEST_SKIP() << "SKIPPED: the fake peer runner needs python3";
  for (const std::string mode : {"mismatch", "liar"}) {
    SCOPED_TRACE(mode);
    testing::TempDir dir;
    const Fake fake{dir};
    testing::Quiet quiet;
    Hooks hooks = quiet.hooks();
    hooks.extra_peers.push_back(fake.spec("fake", mode));
    Options options = preset_options(dir.path());
    options.peers = {"fake"};
    const Outcome outcome = run_bench(options, hooks);
    EXPECT_EQ(outcome.exit_code, 1);
    const json report = json::parse(testing::read_text(outcome.report_path));
    EXPECT_NO_THROW(reports::validate_report(report, outcome.report_path));
    EXPECT_TRUE(entries_of(report, "peer:fake").empty());
    EXPECT_FALSE(entries_of(report, "hwy").empty());
    const json& ctx = report["context"]["vitbench"]["peers"]["fake"];
    EXPECT_FALSE(ctx["passed"].get<bool>());
    EXPECT_EQ(ctx["runs"][0]["status"], "mismatch");
    EXPECT_GT(ctx["runs"][0]["max_rel_error"].get<double>(), 0.1);
    EXPECT_NE(quiet.out.str().find("peer:fake on vit-ti16@32 b2 t1: mismatch: "), std::string::npos)
        << quiet.out.str();
  }
}

TEST(BenchPeers, AMissingPeerIsOneLineAndTheRunGoesOn) {
  if (!have_python3()) GTEST_SKIP() << "SKIPPED: the fake peer runner needs python3";
  testing::TempDir dir;
  const Fake fake{dir};
  testing::Quiet quiet;
  Hooks hooks = quiet.hooks();
  hooks.extra_peers.push_back(fake.spec("fake", "unavailable"));
  hooks.extra_peers.push_back({"ghost", {dir / "no-such-runner"}});
  hooks.extra_peers.push_back(fake.spec("good", "match"));
  Options options = preset_options(dir.path());
  options.peers = {"fake", "ghost", "good"};
  const Outcome outcome = run_bench(options, hooks);
  EXPECT_EQ(outcome.exit_code, 0) << quiet.out.str();
  const json report = json::parse(testing::read_text(outcome.report_path));
  EXPECT_NO_THROW(reports::validate_report(report, outcome.report_path));
  EXPECT_FALSE(entries_of(report, "peer:good").empty()) << "the peers after it still ran";
  const json& peers = report["context"]["vitbench"]["peers"];
  EXPECT_FALSE(peers["fake"]["available"].get<bool>());
  EXPECT_EQ(peers["fake"]["reason"], "fakert is not installed");
  EXPECT_FALSE(peers["ghost"]["available"].get<bool>());
  EXPECT_NE(quiet.out.str().find("peer:fake on vit-ti16@32 b2 t1: unavailable: fakert is not "
                                 "installed\n"),
            std::string::npos)
      << quiet.out.str();
  EXPECT_NE(quiet.out.str().find("peer:ghost on vit-ti16@32 b2 t1: unavailable: cannot start"),
            std::string::npos)
      << quiet.out.str();
}

TEST(BenchPeers, AFailingRunnerIsReportedAndMakesTheExitCodeOne) {
  if (!have_python3()) GTEST_SKIP() << "SKIPPED: the fake peer runner needs python3";
  testing::TempDir dir;
  const Fake fake{dir};
  testing::Quiet quiet;
  Hooks hooks = quiet.hooks();
  hooks.extra_peers.push_back(fake.spec("fake", "crash"));
  Options options = preset_options(dir.path());
  options.peers = {"fake"};
  const Outcome outcome = run_bench(options, hooks);
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_NE(quiet.out.str().find("failed: exit code 1: RuntimeError: boom"), std::string::npos)
      << quiet.out.str();
}

TEST(BenchPeers, AnUnknownPeerIsRefusedBeforeAnyWork) {
  testing::TempDir dir;
  testing::Quiet quiet;
  Options options = preset_options(dir.path());
  options.peers = {"torch", "tensorflow"};
  try {
    run_bench(options, quiet.hooks());
    ADD_FAILURE() << "accepted an unknown peer";
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--peers"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unknown peer \"tensorflow\" (known: torch, onnxruntime)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(quiet.log.str().find("measuring"), std::string::npos);
  EXPECT_TRUE(testing::files_in(dir.path()).empty());

  // The command: exit code 2 and one line on stderr naming the option.
  const testing::CommandResult r = testing::run_command(
      {VITBENCH_CLI, "bench", "--models", kPreset, "--peers", "torch,nope", "--reports-dir",
       dir.path()});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_NE(r.out.find("--peers: unknown peer \"nope\""), std::string::npos) << r.out;
}

TEST(BenchPeers, VitbenchPeerPythonPicksTheInterpreter) {
  const char* outer = std::getenv("VITBENCH_PEER_PYTHON");  // restored below
  const std::string saved = outer ? outer : "";
  ::unsetenv("VITBENCH_PEER_PYTHON");
  EXPECT_EQ(find_peer("torch").command.front(), "/usr/bin/python3");
  ASSERT_EQ(::setenv("VITBENCH_PEER_PYTHON", "/nonexistent/python3", 1), 0);
  const PeerSpec spec = find_peer("onnxruntime");
  if (outer) {
    ::setenv("VITBENCH_PEER_PYTHON", saved.c_str(), 1);
  } else {
    ::unsetenv("VITBENCH_PEER_PYTHON");
  }
  EXPECT_EQ(spec.command.front(), "/nonexistent/python3");
  // An interpreter that is not there makes the peer unavailable, in one line naming it.
  const PeerInputs inputs(1);
  const PeerRun run = run_peer(spec, inputs.request());
  EXPECT_EQ(run.status, PeerStatus::Unavailable);
  EXPECT_NE(run.message.find("cannot start /nonexistent/python3"), std::string::npos)
      << run.message;
}

// The real PyTorch runner, briefly, where Debian's python3-torch is installed.
TEST(BenchPeers, TheTorchRunnerAgreesWithUs) {
  if (std::system("/usr/bin/python3 -c 'import torch, torchvision' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "SKIPPED: /usr/bin/python3 has no torch/torchvision (apt-get install "
                    "python3-torch python3-torchvision)";
  }
  const PeerInputs inputs(2);
  PeerRequest request = inputs.request();
  request.threads = 1;
  request.repetitions = 2;
  request.min_time = 0.001;
  request.warmup_iterations = 1;
  request.warmup_min_time = 0;
  const PeerRun run = run_peer(find_peer("torch"), request);
  ASSERT_EQ(run.status, PeerStatus::Timed) << run.message;
  EXPECT_LT(run.max_rel_error, 1e-4);
  EXPECT_EQ(run.repetitions.size(), 2u);
  EXPECT_EQ(run.details["settings"]["intra_op_threads"], 1);
  EXPECT_FALSE(run.version.empty());
}

// ---- Breakdown ---------------------------------------------------------------------------------

// ViT-Ti's 3 heads run qkv and attention apart on 2 threads, ViT-S's 6 fused per head
// (optimized::fuses_qkv_attention); the laps count either way.
TEST(Breakdown, TheLapTimerChangesNothingButTheTimes) {
  for (const char* preset : {kPreset, "vit-s16@32"}) {
    SCOPED_TRACE(preset);
    const ModelUnderTest m = load_model_under_test(preset, 1);
    const core::Config& c = m.model.config;
    const bool fused = optimized::fuses_qkv_attention(c, 2);
    EXPECT_EQ(fused, c.num_heads == 6);
    const core::Tensor images = core::generate_images(c, 2, 1);
    for (const std::string& backend : optimized_backend_names()) {
      SCOPED_TRACE(backend);
      const optimized::KernelSet& k = optimized::kernel_set(backend);
      optimized::ForwardTimes times;
      const core::Tensor plain = optimized::prepare_model(m.model, k, 2)->forward(images, nullptr);
      const core::Tensor timed =
          optimized::prepare_model(m.model, k, 2, &times)->forward(images, nullptr);
      ASSERT_EQ(plain.size(), timed.size());
      for (size_t i = 0; i < plain.size(); ++i) ASSERT_EQ(plain[i], timed[i]) << i;
      EXPECT_EQ(times.forwards, 1u);
      const size_t layers = c.num_layers;
      auto calls = [&](optimized::ForwardOp op) { return times.calls[static_cast<size_t>(op)]; };
      // Fused, every block but the last, whose queries are pruned (class-token pooling).
      const size_t fused_blocks = fused ? layers - 1 : 0;
      EXPECT_EQ(calls(optimized::ForwardOp::QkvAttention), fused_blocks);
      EXPECT_EQ(calls(optimized::ForwardOp::Qkv), layers - fused_blocks);
      EXPECT_EQ(calls(optimized::ForwardOp::Attention), layers - fused_blocks);
      EXPECT_EQ(calls(optimized::ForwardOp::Fc2), layers);
      EXPECT_EQ(calls(optimized::ForwardOp::LayerNorm), 2 * layers + 1);
      EXPECT_EQ(calls(optimized::ForwardOp::Residual), 0u) << "fused without the attn_out tap";
      EXPECT_EQ(calls(optimized::ForwardOp::Head), 1u);
      // The pool's idle time, booked to the op whose lap ran the region: none without a region,
      // never more than the op's thread time.
      size_t regions = 0;
      for (size_t i = 0; i < optimized::kForwardOps; ++i) {
        regions += times.regions[i];
        EXPECT_GE(times.idle_thread_seconds[i], 0.0) << i;
        EXPECT_LE(times.idle_thread_seconds[i], 2 * times.seconds[i]) << i;
        if (times.regions[i] == 0) {
          EXPECT_EQ(times.idle_thread_seconds[i], 0.0) << i;
        }
      }
      EXPECT_GE(times.regions[static_cast<size_t>(fused ? optimized::ForwardOp::QkvAttention
                                                        : optimized::ForwardOp::Attention)],
                1u)
          << "2 images x 3 heads, or 6 heads, on 2 threads";
      EXPECT_GE(regions, layers);
    }
  }
}

TEST(Breakdown, SummarizingSplitsTimeAndRatesPerClass) {
  const core::Config c = core::preset_config("vit-b16");
  optimized::ForwardTimes t;
  t.forwards = 2;
  for (size_t i = 0; i < optimized::kForwardOps; ++i) {
    t.seconds[i] = 0.01 * static_cast<double>(i + 1);
    t.calls[i] = 2;
  }
  t.calls[static_cast<size_t>(optimized::ForwardOp::Residual)] = 0;
  t.seconds[static_cast<size_t>(optimized::ForwardOp::Residual)] = 0;
  // ViT-B on 2 threads: qkv and attention fused in 11 blocks, apart in the last (forward.cpp).
  t.calls[static_cast<size_t>(optimized::ForwardOp::QkvAttention)] = 2 * 11;
  // qkv's laps (0.03 s on 2 threads) ran 16 parallel regions in which the workers idled for
  // 0.003 thread-seconds: 5% of their 0.06 thread-seconds. No other op ran a region.
  t.regions[static_cast<size_t>(optimized::ForwardOp::Qkv)] = 16;
  t.idle_thread_seconds[static_cast<size_t>(optimized::ForwardOp::Qkv)] = 0.003;
  Peaks peaks;
  peaks.fma_gflops[2] = 100;
  peaks.bandwidth_gbs[2] = 20;
  const Breakdown b = summarize_breakdown(c, t, 1, 2, peaks);
  ASSERT_EQ(b.classes.size(), breakdown_class_names().size());
  double share = 0;
  for (size_t i = 0; i < b.classes.size(); ++i) {
    EXPECT_EQ(b.classes[i].name, breakdown_class_names()[i]);
    share += b.classes[i].share;
  }
  EXPECT_NEAR(share, 100.0, 1e-9);
  const BreakdownClass& qkv = b.classes[0];
  EXPECT_EQ(qkv.shape, "197x2304x768");
  EXPECT_NEAR(qkv.seconds, 0.015, 1e-12);  // Qkv is lap 3 of 11: 0.03 s over 2 forwards
  // The last block's: k and v over every token, q over the class token (forward.cpp).
  const double qkv_flops = (197 * 1536 + 768) * 2.0 * 768;
  EXPECT_NEAR(qkv.flops, qkv_flops, 1.0);
  EXPECT_NEAR(qkv.gflops, qkv_flops * 1e-9 / 0.015, 1e-6);
  EXPECT_NEAR(qkv.percent_peak, qkv.gflops, 1e-9);  // peak 100
  EXPECT_EQ(qkv.pool_regions, 8u);  // per forward
  EXPECT_NEAR(qkv.idle_percent, 5.0, 1e-9);
  // Of the whole forward's thread time: the laps sum to 0.01·(1 + ... + 11) less Residual's 0.07.
  EXPECT_NEAR(b.idle_percent, 100.0 * 0.003 / (2 * (0.66 - 0.07)), 1e-9);
  // The last block's: the class token's query against 197 keys.
  const BreakdownClass& attention = b.classes[4];
  EXPECT_EQ(attention.name, "attention");
  EXPECT_NEAR(attention.flops, 197 * 4.0 * 768, 1.0);
  // 11 blocks of every token's q, k and v, and of 197 queries against 197 keys.
  const BreakdownClass& fused = b.classes[5];
  EXPECT_EQ(fused.name, "qkv+attention");
  EXPECT_EQ(fused.calls, 11u);
  EXPECT_NEAR(fused.seconds, 0.025, 1e-12);  // lap 5 of 11
  EXPECT_NEAR(fused.flops, 11 * (197 * 2304 * 2.0 * 768 + 197 * 197 * 4.0 * 768), 1.0);
  EXPECT_EQ(fused.note, "qkv GEMM and attention in one task per head");
  const BreakdownClass& ln = b.classes[6];
  EXPECT_EQ(ln.name, "layer_norm");
  // 23 LayerNorms over 197 rows; the last LN2 and the final norm over the class token only.
  EXPECT_NEAR(ln.gbs, (23 * 8.0 * 197 * 768 + 2 * 8.0 * 768) * 1e-9 / 0.01, 1e-6);
  // proj and the MLP: 11 blocks over every token, the last over the class token (forward.cpp).
  const BreakdownClass& fc1 = b.classes[2];
  EXPECT_EQ(fc1.name, "gemm.fc1");
  EXPECT_NEAR(fc1.flops, (11 * 197 + 1) * 2.0 * 3072 * 768, 1.0);
  EXPECT_NEAR(ln.percent_bandwidth, 5 * ln.gbs, 1e-9);
  EXPECT_EQ(b.classes[7].note, "fused into gemm.fc1's epilogue");
  EXPECT_EQ(b.classes[8].seconds, 0.0);
  EXPECT_EQ(b.classes[6].pool_regions, 0u);
  const std::string table = format_breakdown(b);
  for (const std::string& name : breakdown_class_names()) {
    EXPECT_NE(table.find(name), std::string::npos) << name;
  }
  EXPECT_NE(table.find("idle %"), std::string::npos) << table;
  const json j = to_json(b);
  EXPECT_NEAR(j["classes"][0]["idle_percent"].get<double>(), 5.0, 1e-9);
  EXPECT_EQ(j["classes"][0]["pool_regions"], 8);
  EXPECT_FALSE(j["classes"][6].contains("idle_percent")) << "layer_norm ran no region";
  EXPECT_NEAR(j["idle_percent"].get<double>(), b.idle_percent, 1e-12);

  // With qkv and attention apart in every block (1 thread, or heads the threads do not share
  // evenly), their classes hold all the work: k and v over every token in all 12 blocks, q over
  // every token in 11 and the class token in the last; 11 blocks of 197 queries and the class
  // token's. The fused class is empty and says nothing.
  t.calls[static_cast<size_t>(optimized::ForwardOp::QkvAttention)] = 0;
  t.seconds[static_cast<size_t>(optimized::ForwardOp::QkvAttention)] = 0;
  const Breakdown apart = summarize_breakdown(c, t, 1, 2, peaks);
  EXPECT_NEAR(apart.classes[0].flops, (12 * 197 * 1536 + (11 * 197 + 1) * 768) * 2.0 * 768, 1.0);
  EXPECT_NEAR(apart.classes[4].flops, (11 * 197 + 1) * 197 * 4.0 * 768, 1.0);
  EXPECT_EQ(apart.classes[5].flops, 0.0);
  EXPECT_EQ(apart.classes[5].calls, 0u);
  EXPECT_EQ(apart.classes[5].note, "");
}

TEST(Breakdown, ARunStoresSharesThatSumToAHundredAndCoverEveryClass) {
  testing::TempDir dir;
  const std::string model = testing::write_tiny_model(dir.path());
  testing::Quiet quiet;
  Options options = testing::tiny_options(model, dir.path());
  options.ops = std::vector<std::string>{};
  options.backends.reset();  // the fastest is chosen from the run's medians
  options.breakdown = true;
  const Outcome outcome = run_bench(options, quiet.hooks());
  EXPECT_EQ(outcome.exit_code, 0) << quiet.log.str();
  const json report = json::parse(testing::read_text(outcome.report_path));
  EXPECT_NO_THROW(reports::validate_report(report, outcome.report_path));
  const json& list = report["context"]["vitbench"]["breakdown"];
  ASSERT_EQ(list.size(), 1u);
  const json& b = list[0];
  EXPECT_EQ(b["threads"], 2);  // the run's largest
  EXPECT_EQ(b["batch"], 2);
  EXPECT_GE(b["forwards"].get<int>(), 3);
  const std::vector<std::string> names = optimized_backend_names();
  EXPECT_NE(std::find(names.begin(), names.end(), b["backend"].get<std::string>()), names.end());
  std::set<std::string> seen;
  double share = 0, ms = 0;
  for (const json& k : b["classes"]) {
    seen.insert(k["class"]);
    share += k["share_percent"].get<double>();
    ms += k["ms"].get<double>();
  }
  const std::vector<std::string>& all = breakdown_class_names();
  EXPECT_EQ(seen, std::set<std::string>(all.begin(), all.end()));
  EXPECT_NEAR(share, 100.0, 0.01);
  EXPECT_NEAR(ms, b["ms_per_forward"].get<double>(), 1e-6);
  EXPECT_LE(b["ms_per_forward"].get<double>(), b["wall_ms_per_forward"].get<double>() * 1.0001);
  EXPECT_NE(quiet.out.str().find("== Breakdown: tiny@32 on "), std::string::npos)
      << quiet.out.str();

  // --backends names the backends to break down; one without a kernel set is refused up front.
  Options named = options;
  named.backends = std::vector<std::string>{"reference", "hwy"};
  testing::Quiet quiet2;
  EXPECT_THROW(run_bench(named, quiet2.hooks()), core::Error);
  EXPECT_EQ(quiet2.log.str().find("measuring"), std::string::npos);
}

}  // namespace
}  // namespace vitbench::bench
