#!/usr/bin/python3
"""ONNX Runtime peer: the PyTorch peer's model (torchvision's VisionTransformer with our seeded
weights) exported once with torch.onnx.export, cached, and run by onnxruntime-node
(onnxruntime_peer.js). Protocol: peer_common.py.

    /usr/bin/python3 bench/peers/onnxruntime_peer.py --request REQUEST.json

This script only makes sure the ONNX file exists, then hands over to node (exec: node's stdout
is the result). The export needs PyTorch; a cached file does not. The cache lives in
bench/peers/cache/ (git-ignored; override with VITBENCH_PEER_CACHE), one file per config,
weight seed, PyTorch version and opset, with a dynamic batch axis.
"""

import hashlib
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common as pc  # noqa: E402

OPSET = 14  # what Debian's PyTorch 1.13 exports ViT with (shared/facts.md)
EXPORT_VERSION = 1  # bump when the export below changes, to invalidate cached files
RUNNER = os.path.join(pc.HERE, "onnxruntime_peer.js")


def cache_path(request, torch_version):
    key = json.dumps({"config": request["config"], "seed": int(request["weight_seed"]),
                      "torch": torch_version, "opset": OPSET, "export": EXPORT_VERSION},
                     sort_keys=True)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in request["model"])
    folder = os.environ.get("VITBENCH_PEER_CACHE", os.path.join(pc.HERE, "cache"))
    return folder, os.path.join(folder, f"{name}-seed{int(request['weight_seed'])}-{digest}.onnx")


def export(request, path):
    import torch
    sys.path.insert(0, pc.GOLDEN)
    import generate

    cfg = request["config"]
    if cfg.get("vitbench_pooling", "cls") != "cls":
        pc.unavailable("the ONNX export covers class-token pooling only (torchvision's own)")
    try:
        model = generate.build_model(cfg, int(request["weight_seed"])).float()
    except SystemExit as e:
        pc.unavailable(f"torchvision's VisionTransformer cannot run this model: {e}")
    images = torch.from_numpy(pc.read_f32(request, "images"))
    tmp = path + f".tmp-{os.getpid()}"
    t0 = time.perf_counter()
    # Gradients stay enabled: under no_grad nn.MultiheadAttention takes its fused fast path,
    # which has no ONNX symbolic in PyTorch 1.13.
    try:
        torch.onnx.export(model, (images,), tmp, opset_version=OPSET, input_names=["images"],
                          output_names=["logits"],
                          dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
                          do_constant_folding=True)
        os.replace(tmp, path)  # a killed export leaves no half file under the cached name
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"onnxruntime peer: exported {os.path.basename(path)} in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)


def main(argv):
    request = pc.read_request(argv)
    pc.set_thread_env(int(request["threads"]))
    node = shutil.which("node")
    if node is None:
        pc.unavailable("node is not on PATH (apt-get install nodejs)")
    module = os.path.join(pc.HERE, "node_modules", "onnxruntime-node")
    if not os.path.isdir(module):
        pc.unavailable("onnxruntime-node is not installed (run bench/peers/install-onnxruntime.sh)")
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch = None
        torch_version = None
    folder, path = (cache_path(request, torch_version) if torch_version else (None, None))
    if path is None:
        pc.unavailable(f"the ONNX model is exported with PyTorch, which {sys.executable} lacks")
    if not os.path.exists(path):
        if not os.path.isdir(folder):
            os.makedirs(folder, exist_ok=True)
        export(request, path)
    sys.stdout.flush()
    os.execv(node, [node, RUNNER, "--request", argv[1], "--model", path])


if __name__ == "__main__":
    main(sys.argv[1:])
