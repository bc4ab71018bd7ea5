#!/usr/bin/python3
"""PyTorch peer: torchvision's VisionTransformer (golden/generate.py's build_model, so the very
model the golden cases come from) holding our seeded weights (golden/weights.py, bit for bit),
in float32, eval mode, under inference_mode. Protocol: peer_common.py.

    /usr/bin/python3 bench/peers/torch_peer.py --request REQUEST.json

Threads: every pool gets the request's thread count (OMP, OpenBLAS, MKL env before the import;
torch.set_num_threads and set_num_interop_threads). OpenMP threads wait passively
(OMP_WAIT_POLICY=PASSIVE unless set): Debian's PyTorch runs its matmuls on OpenBLAS's own pool,
and OpenMP workers spinning beside it on the same cores made ViT-B 2.8x slower on 2 vCPUs
(docs/performance.md, "Peers"). VITBENCH_TORCH_INTRAOP=N overrides the intra-op count alone, to
try other splits.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common as pc  # noqa: E402


def main(argv):
    request = pc.read_request(argv)
    threads = int(request["threads"])
    pc.set_thread_env(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    t0 = time.perf_counter()
    try:
        import torch
        import torchvision  # noqa: F401  (build_model imports it; fail here, as unavailable)
    except ImportError as e:
        pc.unavailable(f"PyTorch is not importable by {sys.executable}: {e}")
    intra = int(os.environ.get("VITBENCH_TORCH_INTRAOP", threads))
    torch.set_num_threads(intra)
    torch.set_num_interop_threads(threads)

    sys.path.insert(0, pc.GOLDEN)
    import generate  # golden/generate.py: the model, not a copy of it

    cfg = request["config"]
    try:
        model = generate.build_model(cfg, int(request["weight_seed"]))
    except SystemExit as e:  # build_model's way of saying "torchvision cannot express this"
        pc.unavailable(f"torchvision's VisionTransformer cannot run this model: {e}")
    model = model.float()  # float32 weights widened exactly to float64 and back: unchanged
    images = pc.read_f32(request, "images")
    expected = pc.read_f32(request, "expected_logits")
    load_seconds = time.perf_counter() - t0

    def run():
        return generate.forward(model, cfg, images, record=False)[0]

    logits = run()
    check = pc.check_logits(logits, expected, float(request["tolerance"]))
    blas = "unknown"
    for line in torch.__config__.show().splitlines():
        if "BLAS_INFO=" in line:
            blas = line.split("BLAS_INFO=")[1].split(",")[0]
    # "generic" means the libblas.so.3 interface, which Debian's alternatives resolve: name the
    # library actually mapped.
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            libs = sorted({line.split()[-1] for line in maps
                           if "blas" in line.rsplit("/", 1)[-1] or "blis" in line.rsplit("/", 1)[-1]})
        if libs:
            blas += " (" + ", ".join(os.path.realpath(lib) for lib in libs) + ")"
    except OSError:
        pass
    result = {
        "peer": "torch",
        "version": torch.__version__.split("+")[0],
        "runtime": f"PyTorch {torch.__version__}, torchvision {torchvision.__version__}, "
                   f"BLAS {blas}, float32, eval, inference_mode",
        "settings": {"threads": threads, "intra_op_threads": torch.get_num_threads(),
                     "inter_op_threads": torch.get_num_interop_threads(),
                     "OMP_NUM_THREADS": os.environ["OMP_NUM_THREADS"],
                     "OPENBLAS_NUM_THREADS": os.environ["OPENBLAS_NUM_THREADS"],
                     "OMP_WAIT_POLICY": os.environ["OMP_WAIT_POLICY"]},
        "load_seconds": load_seconds,
        "check": check,
        "logits": logits.astype(float).tolist(),
    }
    pc.check_then_time(result, run, request)


if __name__ == "__main__":
    main(sys.argv[1:])
