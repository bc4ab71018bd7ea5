// Peers: the runtimes a user would otherwise run (PyTorch, ONNX Runtime), timed on the same
// model, weights, input and thread count in the same run, and written into the same report as
// ordinary Google Benchmark entries named model/<model>/b<batch>/t<threads>/peer:<name>.
//
// A peer is an external runner (bench/peers/, protocol in bench/peers/README.md): bench writes
// a request (config, weight seed, the images, our logits, threads, repetitions) into a temporary
// folder and runs `RUNNER --request FILE`. The runner checks its logits against ours before it
// times anything, and prints its per-repetition times as JSON. bench checks the logits it
// returns again (it never takes a runner's word for it), and turns the repetitions into entries
// with the same counters and aggregates as ours.
//
// Peers are optional: a runner whose runtime is missing says so (exit code 3) and the run goes
// on without it. One whose logits differ, or that fails, is reported and makes the exit code 1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/backends.h"
#include "core/tensor.h"

namespace vitbench::bench {

struct PeerSpec {
  std::string name;                  // "torch": its entries' backend field is "peer:torch"
  std::vector<std::string> command;  // argv; "--request FILE" is appended
};

// The built-in peers, in the order they run.
const std::vector<std::string>& peer_names();
// Throws core::Error naming --peers and listing the known peers.
PeerSpec find_peer(const std::string& name);

// What a runner is asked. The images and logits are written as raw little-endian float32.
struct PeerRequest {
  const ModelUnderTest* model = nullptr;
  uint64_t weight_seed = 0;
  size_t batch = 1, threads = 1;
  const core::Tensor* images = nullptr;           // [N, C, H, W]
  const core::Tensor* expected_logits = nullptr;  // [N, L]: ours
  std::string checked_against;                    // the backend that computed them
  int repetitions = 5;
  double min_time = 0.5;         // per repetition, as Google Benchmark's min_time
  int warmup_iterations = 2;     // at least this many untimed forwards first...
  double warmup_min_time = 0.5;  // ...and at least this long
  double tolerance = 2e-3;       // of max|our logit|
};

enum class PeerStatus { Timed, Unavailable, Mismatch, Failed };
const char* to_string(PeerStatus status);

struct PeerRepetition {
  size_t iterations = 0;
  double real_seconds = 0, cpu_seconds = 0;  // the whole repetition
};

struct PeerRun {
  std::string peer, model;
  size_t batch = 0, threads = 0;
  PeerStatus status = PeerStatus::Failed;
  std::string message;  // one line: why it is unavailable, failed or refused
  std::string version;  // the runtime's version, when the runner said
  nlohmann::json details = nlohmann::json::object();  // runner's runtime, settings, load time
  double max_rel_error = -1;  // bench's own check of the returned logits; -1: none
  std::string checked_against;
  std::vector<PeerRepetition> repetitions;
};

// Writes the request into a fresh temporary folder, runs the runner, removes the folder.
// Models other than presets (seeded weights) make the run Unavailable: the runners rebuild the
// weights from the seed rather than reading ours.
PeerRun run_peer(const PeerSpec& spec, const PeerRequest& request);

// Turns what a runner did (exit code, stdout, stderr) into a PeerRun; exposed for tests.
PeerRun interpret_peer_output(const PeerSpec& spec, const PeerRequest& request, int exit_code,
                              const std::string& out, const std::string& err);

// Google Benchmark's JSON entries for a timed run: one per repetition plus, with more than one,
// mean, median, stddev and cv aggregates, with GFLOP/s, %peak (against `peak_gflops`),
// images/s and threads computed as ours are, and "label": "peer:<name> <version>".
// `flops_per_forward` is core/flops.h's count for the batch.
nlohmann::json peer_benchmark_entries(const PeerRun& run, double flops_per_forward,
                                      double peak_gflops, int family_index);

// context.vitbench.peers: one object per peer (docs/report-format.md).
nlohmann::json peers_context(const std::vector<PeerRun>& runs);

}  // namespace vitbench::bench
