#!/usr/bin/env python3
"""Writes the small report fixtures in this folder.

The reports are laid out exactly as Google Benchmark 1.7.1 writes them (key order, the duplicated
`threads` key where the suite's counter follows Google Benchmark's own field, bare NaN tokens), so
the readers are tested against what the harness will really produce. Timings are synthetic and
deterministic: each benchmark's repetitions are its median times a fixed jitter pattern.

Run: python3 tests/reports/data/make_fixtures.py   (rewrites the *.json next to it)
"""
import copy
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# +-2% jitter around the median; the middle value is exactly 1 so the median is the nominal time.
JITTER = [0.985, 1.012, 1.0, 0.993, 1.02]

VIT_TI_FLOPS = 2.52e9  # per image, close to core/flops.h for ViT-Ti/16 at 224

MACHINE_A = {
    "vendor": "AuthenticAMD", "model": "AMD EPYC 7B13", "target": "AVX2", "threads": 2,
    "compiled": ["AVX3", "AVX2", "SSE4", "EMU128"],
    "flags": ["sse4_2", "avx", "avx2", "fma"], "cores": 2,
    "peak": {"1": 92.0, "2": 176.0}, "bw": {"1": 12.0, "2": 19.5},
}
MACHINE_B = {
    "vendor": "GenuineIntel", "model": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
    "target": "AVX3", "threads": 4, "compiled": ["AVX3", "AVX2", "SSE4", "EMU128"],
    "flags": ["sse4_2", "avx", "avx2", "fma", "avx512f"], "cores": 4,
    "peak": {"4": 610.0}, "bw": {"4": 38.0},
}


def model_bench(threads, backend, ms, batch=1):
    name = f"model/vit-ti16@224/b{batch}/t{threads}/{backend}"
    flops = VIT_TI_FLOPS * batch
    return {"name": name, "unit": "ms", "time_ns": ms * 1e6, "flops": flops,
            "images": batch}


def op_bench(op, shape, threads, backend, us, flops, nbytes=None):
    name = f"op/{op}/vit-ti16@224/{shape}/t{threads}/{backend}"
    return {"name": name, "unit": "us", "time_ns": us * 1e3, "flops": flops, "bytes": nbytes}


def benches_a():
    t = 2
    return [
        model_bench(t, "hwy", 30.0),
        model_bench(t, "blis", 28.0),
        model_bench(t, "flash", 29.0),
        model_bench(t, "peer:onnxruntime", 27.2),
        op_bench("linear", "197x576x192", t, "hwy", 560.0, 2 * 197 * 576 * 192),
        op_bench("linear", "197x576x192", t, "blis", 520.0, 2 * 197 * 576 * 192),
        op_bench("gelu", "197x768", t, "hwy", 82.0, 20 * 197 * 768, 8 * 197 * 768),
        op_bench("layer_norm", "197x192", t, "hwy", 9.5, 8 * 197 * 192, 8 * 197 * 192),
        op_bench("softmax", "591x197", t, "hwy", 40.0, 5 * 591 * 197, 8 * 591 * 197),
        op_bench("attention", "197x3x64", t, "flash", 600.0, 4 * 197 * 197 * 3 * 64),
    ]


def benches_b():
    t = 4
    return [
        model_bench(t, "hwy", 9.0),
        model_bench(t, "blis", 11.0),
        model_bench(t, "flash", 8.7),
        op_bench("linear", "197x576x192", t, "hwy", 150.0, 2 * 197 * 576 * 192),
        op_bench("gelu", "197x768", t, "hwy", 30.0, 20 * 197 * 768, 8 * 197 * 768),
        op_bench("attention", "197x3x64", t, "flash", 160.0, 4 * 197 * 197 * 3 * 64),
    ]


def case(rel=1.2e-6, passed=True, name="odd-72x3-b3", agree=3):
    return {"case": name, "passed": passed, "first_failing_tap": None if passed else "block.0.attn_out",
            "logits": {"max_rel_error": rel, "nmse": rel * rel * 0.2, "cosine": 1.0 - rel * rel,
                       "argmax_agree": agree, "rows": 3}}


def verification(backends, overrides=None):
    overrides = overrides or {}
    out = []
    for b in backends:
        entry = {"backend": b, "passed": True, "source": "golden",
                 "cases": [case(), case(2.0e-6, name="vit-ti16-224-b1", agree=1) | {"logits": {
                     "max_rel_error": 2.0e-6, "nmse": 1e-12, "cosine": 1.0, "argmax_agree": 1,
                     "rows": 1}}]}
        if b in overrides:
            overrides[b](entry)
        out.append(entry)
    return out


def vitbench_context(m, commit, backends, overrides=None):
    t = m["threads"]
    return {
        "version": 1,
        "cpu": {"vendor": m["vendor"], "model": m["model"], "family": 25, "model_id": 1,
                "stepping": 1, "flags": m["flags"], "cores": m["cores"], "threads": m["cores"],
                "caches": [{"level": 1, "type": "Data", "size": 32768},
                           {"level": 2, "type": "Unified", "size": 524288}]},
        "highway": {"chosen_target": m["target"], "compiled_targets": m["compiled"]},
        "blis": {"version": "0.9.0", "config": "zen3", "threading": "openmp"},
        "blas_loaded": "/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4",
        "build": {"compiler": "GNU 12.2.0", "flags": "-O3 -DNDEBUG", "build_type": "Release"},
        "git": {"commit": commit, "dirty": False},
        "threads": t,
        "os": "Linux 6.1.0 x86_64",
        "machine_key": f"{m['model']}/{m['target']}/t{t}",
        "peak": {"fma_gflops": m["peak"], "bandwidth_gbs": m["bw"]},
        "verification": verification(backends, overrides),
        "peers": {"onnxruntime": {"version": "1.30.0", "checked_max_rel_error": 3e-6}},
    }


def fmt(v):
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return "%.17g" % v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(v)


def emit_object(pairs, indent):
    pad = " " * indent
    lines = [f'{pad}  "{k}": {fmt(v)}' for k, v in pairs]
    return pad + "{\n" + ",\n".join(lines) + "\n" + pad + "}"


def to_json_text(v, indent=0):
    """Pretty JSON like Google Benchmark's, allowing NaN tokens (json.dumps would too)."""
    pad = " " * indent
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = [f'{pad}  {fmt(k)}: {to_json_text(x, indent + 2)}' for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(v, list):
        if not v:
            return "[]"
        items = [pad + "  " + to_json_text(x, indent + 2) for x in v]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    if v is None:
        return "null"
    return fmt(v)


def bench_entries(benches, family_start, threads, reps=5, suffix=True, scale=None, nan_at=None):
    """Google Benchmark's entries for each benchmark: its repetitions then mean/median/stddev/cv."""
    scale = scale or {}
    out = []
    unit_ns = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    for i, b in enumerate(benches):
        run_name = b["name"] + (f"/repeats:{reps}/real_time" if suffix else "")
        s = scale.get(b["name"], 1.0)
        times = [b["time_ns"] * s * JITTER[r % len(JITTER)] for r in range(reps)]
        rows = []
        for r, t_ns in enumerate(times):
            t = t_ns / unit_ns[b["unit"]]
            if nan_at == (b["name"], r):
                t = float("nan")
            rows.append(("iteration", r, t, t_ns))
        counters_per = []
        for (_, _, t, t_ns) in rows:
            gflops = b["flops"] / t_ns if t == t else float("nan")
            c = [("GFLOP/s", gflops), ("%peak", 100.0 * gflops / PEAK[threads])]
            if b.get("images"):
                c.append(("images/s", b["images"] / (t_ns * 1e-9)))
            if b.get("bytes"):
                c.append(("bytes_per_second", b["bytes"] / (t_ns * 1e-9)))
            c.append(("threads", float(threads)))
            counters_per.append(c)
        base = [("family_index", family_start + i), ("per_family_instance_index", 0),
                ("run_name", run_name)]
        for (kind, r, t, _), c in zip(rows, counters_per):
            pairs = [("name", run_name)] + base[:2] + [("run_name", run_name),
                     ("run_type", "iteration"), ("repetitions", reps), ("repetition_index", r),
                     ("threads", 1), ("iterations", 7), ("real_time", t), ("cpu_time", t * 0.98),
                     ("time_unit", b["unit"])] + c
            out.append(pairs)
        if reps > 1:
            ts = sorted(t for (_, _, t, _) in rows)
            mean = sum(ts) / len(ts)
            med = ts[len(ts) // 2] if len(ts) % 2 else 0.5 * (ts[len(ts) // 2 - 1] + ts[len(ts) // 2])
            sd = math.sqrt(sum((x - mean) ** 2 for x in ts) / (len(ts) - 1))
            for agg, val in (("mean", mean), ("median", med), ("stddev", sd), ("cv", sd / mean)):
                ref = counters_per[len(counters_per) // 2]
                # Google Benchmark aggregates counters too; a constant counter has zero spread.
                c = [(k, v if agg in ("mean", "median") else (0.0 if k == "threads" else 0.01 * v))
                     for k, v in ref]
                pairs = [("name", run_name + "_" + agg)] + base[:2] + [
                    ("run_name", run_name), ("run_type", "aggregate"), ("repetitions", reps),
                    ("threads", 1), ("aggregate_name", agg),
                    ("aggregate_unit", "percentage" if agg == "cv" else "time"),
                    ("iterations", reps), ("real_time", val), ("cpu_time", val * 0.98),
                    ("time_unit", b["unit"])] + c
                out.append(pairs)
    return out


PEAK = {2: 176.0, 4: 610.0}


def write_report(path, context, entries):
    text = "{\n  \"context\": " + to_json_text(context, 2) + ",\n  \"benchmarks\": [\n"
    text += ",\n".join(emit_object(p, 4) for p in entries)
    text += "\n  ]\n}\n"
    with open(os.path.join(HERE, path), "w") as f:
        f.write(text)


def gb_context(date, host, cpus, vit):
    ctx = {"date": date, "host_name": host, "executable": "./build/cli/vitbench", "num_cpus": cpus,
           "mhz_per_cpu": 2450, "cpu_scaling_enabled": False,
           "caches": [{"type": "Data", "level": 1, "size": 32768, "num_sharing": 1}],
           "load_avg": [0.5, 0.4, 0.3], "library_build_type": "release"}
    if vit is not None:
        ctx["vitbench"] = vit
    return ctx


def main():
    backends = ["hwy", "blis", "flash"]
    a = benches_a()
    base_ctx = gb_context("2024-03-01T10:00:00+00:00", "ci-a", 2,
                          vitbench_context(MACHINE_A, "1111111aaaaaaa", backends))
    write_report("base.json", base_ctx, bench_entries(a, 0, 2))

    # The same benchmarks re-run at the next commit: identical numbers, so nothing may be flagged.
    same_ctx = copy.deepcopy(base_ctx)
    same_ctx["date"] = "2024-03-02T10:00:00+00:00"
    same_ctx["vitbench"]["git"]["commit"] = "2222222bbbbbbb"
    write_report("new_same.json", same_ctx, bench_entries(a, 0, 2))

    # An injected 20% slowdown of one model, a 2% change (under the 5% threshold), a 20%
    # speed-up, one benchmark dropped and one added.
    slow_ctx = copy.deepcopy(base_ctx)
    slow_ctx["date"] = "2024-03-03T10:00:00+00:00"
    slow_ctx["vitbench"]["git"]["commit"] = "3333333ccccccc"
    slow = [b for b in a if "softmax" not in b["name"]]
    slow.append(op_bench("softmax", "591x197", 2, "flash", 35.0, 5 * 591 * 197, 8 * 591 * 197))
    write_report("new_slow.json", slow_ctx, bench_entries(slow, 0, 2, scale={
        "model/vit-ti16@224/b1/t2/hwy": 1.2,
        "op/linear/vit-ti16@224/197x576x192/t2/hwy": 1.02,
        "op/attention/vit-ti16@224/197x3x64/t2/flash": 0.8}))

    # Same speed, but hwy's logits got 300x worse while still passing, and blis now fails
    # verification (so, as the format says, it has no benchmarks).
    def worse_hwy(entry):
        entry["cases"][0]["logits"]["max_rel_error"] = 4e-4
        entry["cases"][0]["logits"]["nmse"] = 3e-9

    def failing_blis(entry):
        entry["passed"] = False
        entry["cases"][0] = case(2e-2, passed=False, agree=2)

    acc_ctx = gb_context("2024-03-04T10:00:00+00:00", "ci-a", 2, vitbench_context(
        MACHINE_A, "4444444ddddddd", backends, {"hwy": worse_hwy, "blis": failing_blis}))
    write_report("new_accuracy.json", acc_ctx,
                 bench_entries([b for b in a if not b["name"].endswith("/blis")], 0, 2))

    # Another CPU and thread count; repetitions set by flag, so names carry no /repeats: suffix.
    b_ctx = gb_context("2024-03-02T12:00:00+00:00", "ci-b", 4,
                       vitbench_context(MACHINE_B, "2222222bbbbbbb", backends))
    b_ctx["vitbench"]["scheduling"] = {"policy": "SCHED_FIFO", "priority": 10,
                                       "rt_runtime_us": 950000, "rt_period_us": 1000000}
    write_report("machine_b.json", b_ctx, bench_entries(benches_b(), 0, 4, suffix=False))

    # One repetition's time is NaN, as Google Benchmark writes it (a bare NaN token).
    write_report("nan_timings.json", base_ctx,
                 bench_entries(a[:2], 0, 2, nan_at=("model/vit-ti16@224/b1/t2/hwy", 2)))

    # Hand-trimmed: no context.vitbench, one benchmark without counters, one with aggregates
    # only, one that failed to run, one without a time_unit.
    ctx = gb_context("2024-02-28T09:00:00+00:00", "laptop", 8, None)
    entries = bench_entries(a[:1], 0, 2, reps=1)
    entries[0] = [p for p in entries[0] if p[0] not in ("GFLOP/s", "%peak", "images/s", "threads")]
    aggs = [e for e in bench_entries(a[4:5], 1, 2) if dict(e)["run_type"] == "aggregate"]
    entries += aggs
    entries.append([("name", "op/gelu/vit-ti16@224/197x768/t2/hwy"), ("run_name",
                    "op/gelu/vit-ti16@224/197x768/t2/hwy"), ("run_type", "iteration"),
                    ("repetitions", 1), ("threads", 1), ("error_occurred", True),
                    ("error_message", "hwy: AVX2 not available"), ("iterations", 0),
                    ("real_time", 0.0), ("cpu_time", 0.0), ("time_unit", "ns")])
    entries.append([("name", "BM_legacy"), ("run_type", "iteration"), ("iterations", 3),
                    ("real_time", 12.5), ("cpu_time", 12.0)])
    write_report("missing_fields.json", ctx, entries)

    # Wrong types: a timing that is a string.
    entries = bench_entries(a[:1], 0, 2, reps=1)
    entries[0] = [(k, "fast" if k == "real_time" else v) for k, v in entries[0]]
    write_report("wrong_types.json", base_ctx, entries)


if __name__ == "__main__":
    main()
