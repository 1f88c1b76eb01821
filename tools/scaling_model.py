"""The step-time model of docs/scaling.md: data-parallel SGD on N machines joined by a link of a
given bandwidth, from compute times measured here (`descent bench train`) and a ring all-reduce.

    t_step(N) = t_compute(b) + t_allreduce            (no overlap)
    t_step(N) = max(t_compute(b), t_allreduce) + t_last_bucket   (full overlap of the rest)
    t_allreduce = 2(N-1)/N * S / bandwidth + 2(N-1) * latency

b is the per-machine batch: B/N for a fixed global batch B (strong scaling), or B for a fixed
per-machine batch (weak scaling: the global batch grows to N*B). S is the gradient's bytes (f32).
Run: python3 tools/scaling_model.py [--mlp-us 41.7] [--conv-us 714] ...
"""
import argparse

p = argparse.ArgumentParser()
p.add_argument("--mlp-us", type=float, default=41.7, help="µs of training per example, mnist-mlp, one 2-core machine")
p.add_argument("--conv-us", type=float, default=714.0, help="µs per example, mnist-2c2d, one 2-core machine")
p.add_argument("--latency-us", type=float, default=10.0, help="per message step of the ring")
p.add_argument("--bucket-mib", type=float, default=4.0, help="the last bucket, which no overlap hides")
p.add_argument("--batch", type=int, default=128)
a = p.parse_args()

models = {"mnist-mlp": (1_336_610 * 4, a.mlp_us), "mnist-2c2d": (3_274_634 * 4, a.conv_us)}
links = {"10 Gb/s": 1.25e9, "100 Gb/s": 12.5e9}
ranks = [1, 2, 4, 8, 16, 32, 64]


def allreduce(n, size, bandwidth):
    if n == 1:
        return 0.0
    return 2 * (n - 1) / n * size / bandwidth + 2 * (n - 1) * a.latency_us * 1e-6


def step(n, size, us, bandwidth, per_machine, overlap):
    compute = per_machine * us * 1e-6
    comm = allreduce(n, size, bandwidth)
    if not overlap:
        return compute + comm
    last = allreduce(n, min(size, a.bucket_mib * 2**20), bandwidth)
    return max(compute, comm - last) + last


for scaling in ["strong", "weak"]:
    print(f"\n### {scaling} scaling ({'global batch' if scaling == 'strong' else 'batch per machine'} {a.batch})\n")
    print("| model | link | overlap | " + " | ".join(f"N={n}" for n in ranks) + " |")
    print("|---|---|---|" + "---|" * len(ranks))
    for name, (size, us) in models.items():
        for link, bandwidth in links.items():
            for overlap in [False, True]:
                cells = []
                for n in ranks:
                    per_machine = a.batch / n if scaling == "strong" else a.batch
                    t = step(n, size, us, bandwidth, per_machine, overlap)
                    single = step(1, size, us, bandwidth, a.batch if scaling == "weak" else a.batch, overlap)
                    speedup = (n * a.batch if scaling == "weak" else a.batch) / t / (a.batch / single)
                    cells.append(f"{speedup:.1f}×")
                print(f"| {name} | {link} | {'yes' if overlap else 'no'} | " + " | ".join(cells) + " |")
