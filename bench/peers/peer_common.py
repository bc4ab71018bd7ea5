"""What every peer runner shares: the request `vitbench bench --peers` writes, the thread
settings, the logits check, the timing loop and the result it prints.

The protocol (bench/peers/README.md): a runner is started as `RUNNER --request FILE`. It prints
one JSON document on stdout and everything else on stderr, and exits with
    0  checked and timed;
    3  unavailable (its runtime is not installed, or it cannot run this model): one line on
       stderr says why, and vitbench goes on without it;
    4  its logits do not match ours: the result holds the check's figures and no timings;
    anything else: it failed (the last lines of stderr are reported).
"""

import json
import os
import sys
import time

import numpy as np

UNAVAILABLE = 3
MISMATCH = 4

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(os.path.dirname(os.path.dirname(HERE)), "golden")


def unavailable(message):
    print(message, file=sys.stderr)
    sys.exit(UNAVAILABLE)


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def read_request(argv):
    if len(argv) != 2 or argv[0] != "--request":
        fail("usage: RUNNER --request REQUEST.json")
    path = argv[1]
    try:
        with open(path, encoding="utf-8") as f:
            request = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: cannot read the request: {e}")
    request["_dir"] = os.path.dirname(os.path.abspath(path))
    return request


def set_thread_env(threads):
    """Every pool a runtime may start, sized before the runtime is imported: OpenMP (PyTorch's
    intra-op pool), and the BLAS libraries', whose pools torch.set_num_threads does not reach
    (Debian's PyTorch runs its matmuls through OpenBLAS)."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[name] = str(threads)


def read_f32(request, key):
    spec = request[key]
    data = np.fromfile(os.path.join(request["_dir"], spec["file"]), dtype="<f4")
    shape = tuple(spec["shape"])
    if data.size != int(np.prod(shape)):
        fail(f"{spec['file']}: holds {data.size} floats, the request says {list(shape)}")
    return data.reshape(shape)


def check_logits(logits, expected, tolerance):
    """max|ours - theirs| / max|ours|, vitbench's bar for "the same function"."""
    logits = np.asarray(logits, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if logits.shape != expected.shape:
        return {"passed": False, "max_rel_error": None, "tolerance": tolerance,
                "error": f"logits shaped {list(logits.shape)}, ours {list(expected.shape)}"}
    scale = float(np.max(np.abs(expected)))
    if not np.all(np.isfinite(logits)):
        return {"passed": False, "max_rel_error": None, "tolerance": tolerance,
                "error": "non-finite logits"}
    rel = float(np.max(np.abs(logits - expected)) / scale) if scale > 0 else 0.0
    return {"passed": rel <= tolerance, "max_rel_error": rel, "tolerance": tolerance,
            "argmax_agree": int(np.sum(np.argmax(logits, 1) == np.argmax(expected, 1))),
            "rows": int(expected.shape[0])}


def time_repetitions(run, repetitions, min_time, warmup_iterations, warmup_min_time):
    """Warm-up (at least `warmup_iterations` calls and `warmup_min_time` seconds), then
    `repetitions` repetitions, each as many calls as reach `min_time` seconds (at least one),
    as Google Benchmark times ours. Wall clock and the process's CPU time, per repetition."""
    start = time.perf_counter()
    done = 0
    while done < warmup_iterations or time.perf_counter() - start < warmup_min_time:
        run()
        done += 1
    warmup = {"iterations": done, "seconds": time.perf_counter() - start}
    reps = []
    for _ in range(repetitions):
        iterations = 0
        wall0, cpu0 = time.perf_counter(), time.process_time()
        while True:
            run()
            iterations += 1
            elapsed = time.perf_counter() - wall0
            if elapsed >= min_time:
                break
        reps.append({"iterations": iterations, "real_seconds": elapsed,
                     "cpu_seconds": time.process_time() - cpu0})
    return warmup, reps


def check_then_time(result, run, request):
    """Prints `result` and exits: without timings when its logits check failed (MISMATCH), else
    with `run` timed as the request asks."""
    if not result["check"]["passed"]:
        emit(result, MISMATCH)
    warmup, reps = time_repetitions(run, int(request["repetitions"]), float(request["min_time"]),
                                    int(request["warmup_iterations"]),
                                    float(request["warmup_min_time"]))
    result["warmup"] = warmup
    result["repetitions"] = reps
    emit(result)


def emit(result, code=0):
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()
    sys.exit(code)
