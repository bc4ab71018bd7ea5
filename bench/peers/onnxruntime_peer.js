// ONNX Runtime peer, run by onnxruntime_peer.py once the ONNX file exists:
//   node bench/peers/onnxruntime_peer.js --request REQUEST.json --model MODEL.onnx
// Same protocol and exit codes as the Python runners (peer_common.py): one JSON document on
// stdout; 3 unavailable, 4 logits mismatch (no timings), other non-zero codes are failures.
'use strict';

const fs = require('fs');
const path = require('path');

const UNAVAILABLE = 3;
const MISMATCH = 4;

function fail(message, code = 1) {
  process.stderr.write(message + '\n');
  process.exit(code);
}

function args() {
  const a = process.argv.slice(2);
  const out = {};
  for (let i = 0; i + 1 < a.length; i += 2) out[a[i].replace(/^--/, '')] = a[i + 1];
  if (!out.request || !out.model) fail('usage: node onnxruntime_peer.js --request FILE --model FILE');
  return out;
}

function readF32(dir, spec) {
  const bytes = fs.readFileSync(path.join(dir, spec.file));
  const count = spec.shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== 4 * count) fail(`${spec.file}: ${bytes.length} bytes, expected ${4 * count}`);
  // Copied into a fresh, aligned buffer: a Buffer's offset into its pool may not be a multiple of 4.
  const data = new Float32Array(count);
  for (let i = 0; i < count; ++i) data[i] = bytes.readFloatLE(4 * i);
  return data;
}

function check(logits, expected, rows, tolerance) {
  let scale = 0, worst = 0, finite = true;
  for (let i = 0; i < expected.length; ++i) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; ++i) {
    if (!Number.isFinite(logits[i])) finite = false;
    worst = Math.max(worst, Math.abs(logits[i] - expected[i]));
  }
  const cols = expected.length / rows;
  let agree = 0;
  for (let r = 0; r < rows; ++r) {
    let a = 0, b = 0;
    for (let c = 1; c < cols; ++c) {
      if (logits[r * cols + c] > logits[r * cols + a]) a = c;
      if (expected[r * cols + c] > expected[r * cols + b]) b = c;
    }
    if (a === b) agree += 1;
  }
  if (!finite) return { passed: false, max_rel_error: null, tolerance, error: 'non-finite logits' };
  const rel = scale > 0 ? worst / scale : 0;
  return { passed: rel <= tolerance, max_rel_error: rel, tolerance, argmax_agree: agree, rows };
}

const now = () => Number(process.hrtime.bigint()) * 1e-9;
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1e-6; };

async function main() {
  const a = args();
  const request = JSON.parse(fs.readFileSync(a.request, 'utf8'));
  const dir = path.dirname(path.resolve(a.request));
  let ort, version;
  try {
    ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
    version = require(path.join(__dirname, 'node_modules', 'onnxruntime-node', 'package.json')).version;
  } catch (e) {
    fail(`onnxruntime-node cannot be loaded (run bench/peers/install-onnxruntime.sh): ${e.message}`,
         UNAVAILABLE);
  }
  const threads = request.threads;
  const t0 = now();
  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  const session = await ort.InferenceSession.create(a.model, options);
  const images = readF32(dir, request.images);
  const expected = readF32(dir, request.expected_logits);
  const feeds = { images: new ort.Tensor('float32', images, request.images.shape) };
  const loadSeconds = now() - t0;
  const run = async () => (await session.run(feeds)).logits.data;

  const logits = await run();
  const rows = request.expected_logits.shape[0];
  const result = {
    peer: 'onnxruntime',
    version,
    runtime: `onnxruntime-node ${version} (node ${process.versions.node}), CPU execution provider, ` +
             `graph optimization 'all', ${path.basename(a.model)}`,
    settings: { threads, intra_op_threads: threads, inter_op_threads: 1,
                graph_optimization_level: 'all', execution_mode: 'sequential' },
    load_seconds: loadSeconds,
    check: check(logits, expected, rows, request.tolerance),
    logits: [],
  };
  const cols = expected.length / rows;
  for (let r = 0; r < rows; ++r) result.logits.push(Array.from(logits.subarray(r * cols, (r + 1) * cols)));
  if (!result.check.passed) {
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(MISMATCH);
  }
  // Warm-up, then repetitions of at least min_time each, as peer_common.time_repetitions.
  const w0 = now();
  let done = 0;
  while (done < request.warmup_iterations || now() - w0 < request.warmup_min_time) {
    await run();
    done += 1;
  }
  result.warmup = { iterations: done, seconds: now() - w0 };
  result.repetitions = [];
  for (let r = 0; r < request.repetitions; ++r) {
    let iterations = 0, elapsed = 0;
    const wall0 = now(), cpu0 = cpu();
    for (;;) {
      await run();
      iterations += 1;
      elapsed = now() - wall0;
      if (elapsed >= request.min_time) break;
    }
    result.repetitions.push({ iterations, real_seconds: elapsed, cpu_seconds: cpu() - cpu0 });
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => fail(`onnxruntime peer: ${e && e.stack ? e.stack : e}`));
