"""The reference for descent's f32 matrix product: OpenBLAS's sgemm (numpy's bundled OpenBLAS) on
the shapes `descent bench gemm` measures, forced to its Haswell (AVX2 + FMA) kernel with
OPENBLAS_CORETYPE=Haswell, or left to choose with --auto. Prints GFLOP/s, median of --repeats
timings after one warm-up, per shape and thread count. Run beside `descent bench gemm` (alternately,
in the same session): `bash tools/gemm-vs-openblas.sh`. Needs numpy (tools/torch-venv.sh
installs it)."""
import argparse, os, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--threads", default="1,2")
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--auto", action="store_true", help="let OpenBLAS pick its kernel for this CPU")
args = parser.parse_args()
threads = [int(t) for t in args.threads.split(",")]

# OpenBLAS reads these when it loads, so set them before numpy is imported; a run per thread
# count starts a fresh interpreter.
if "DESCENT_OPENBLAS_CHILD" not in os.environ:
    import subprocess
    for t in threads:
        env = dict(os.environ, DESCENT_OPENBLAS_CHILD="1", OPENBLAS_NUM_THREADS=str(t))
        env.pop("OPENBLAS_L2_SIZE", None)
        if args.auto:
            env.pop("OPENBLAS_CORETYPE", None)
        else:
            env["OPENBLAS_CORETYPE"] = "Haswell"
        subprocess.run([sys.executable, __file__, "--threads", str(t), "--repeats", str(args.repeats)], env=env, check=True)
    sys.exit(0)

import numpy as np

SHAPES = [
    ("1024³", (1024, 1024, 1024)),
    ("mnist-mlp layer 1 forward", (128, 784, 1000)),
    ("mnist-mlp layer 1 weight gradient", (1000, 128, 784)),
    ("mnist-2c2d conv 2 forward", (25088, 800, 64)),
    ("mnist-2c2d dense 1 forward", (128, 3136, 1024)),
]
core = os.environ.get("OPENBLAS_CORETYPE", "auto")
for name, (m, k, n) in SHAPES:
    a = np.full((m, k), 0.5, dtype=np.float32)
    b = np.full((n, k), 0.25, dtype=np.float32)  # used transposed, as in descent bench gemm
    samples = []
    for i in range(args.repeats + 1):
        start = time.perf_counter()
        c = a @ b.T
        elapsed = time.perf_counter() - start
        if i > 0:
            samples.append(2 * m * k * n / elapsed / 1e9)
    samples.sort()
    print(f"openblas ({core}), {os.environ['OPENBLAS_NUM_THREADS']} thr, {name}: {m} × {k} × {n}: {samples[len(samples) // 2]:.1f} GFLOP/s")
