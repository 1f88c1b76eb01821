"""PyTorch reference for descent's deeper problems: test accuracy / reconstruction error per
epoch, and training throughput, on the full MNIST or Fashion-MNIST files.

Problems (default PyTorch initialisation of nn.Linear / nn.Conv2d, Adam lr 1e-3, batch 128,
seed 1, 5,000 random training images held out for validation, pixels scaled to [0, 1]):

  mnist-2c2d, fmnist-2c2d  DeepOBS 2c2d: Conv2d(1,32,5,pad 2)+ReLU, MaxPool 2, Conv2d(32,64,5,
                           pad 2)+ReLU, MaxPool 2, Flatten, Linear(3136,1024)+ReLU,
                           Linear(1024,10); cross-entropy; 3,274,634 parameters (checked).
                           Reports validation and test accuracy (%) after every epoch.
  mnist-autoencoder        Hinton & Salakhutdinov 784-1000-500-250-30-250-500-1000-784, sigmoid
                           everywhere except the linear 30-unit code and the output logits;
                           loss = BCE with logits against the pixels, summed over the 784
                           pixels, averaged over the batch; 2,837,314 parameters (checked).
                           Reports, on train/validation/test, the mean over examples of
                           sum_pixels (sigmoid(logit) - x)^2 after every epoch.

Every epoch shuffles the 55,000 training images (torch generator seeded with --seed) and runs
ceil(55000/128) = 430 steps, the last one on the 88 left over. --max-steps N stops training after
N steps in all (the epoch line then says "partial") for quick checks.

--bench times training steps alone: data already in memory as tensors, each step gathers a
random batch of 128 by index (torch.randint), then zero_grad/forward/backward/Adam step. Each of
--repeats rounds runs 20 warm-up steps and then --steps timed steps on the same model; it prints
examples/s per round and their median, and cores_used = CPU time (time.process_time) / wall time
per round. --json prints one JSON line instead:
{"problem", "examples_per_second": [...], "median", "cores_used": [...]}.

Measured with torch 2.15.0 (PyPI wheel 2.15.0+cu132, run on the CPU) on a BUSY 2-core machine
(another engineer's cargo builds running at the same time, load average 3.5-5), short runs only:
  --bench --steps 20 --repeats 1   --threads 2 (default)          --threads 1
    mnist-2c2d                     276-387 examples/s, cores 1.0   982 examples/s, cores 0.96
    mnist-autoencoder              197-338 examples/s, cores 1.0   4,085 examples/s, cores 0.99
  With 2 threads on shared cores OpenMP's barriers wait on a descheduled thread (one sigmoid on
  128x1000 took 7.8 ms with 2 threads against 80 us with 1); OMP_WAIT_POLICY=PASSIVE gave 913
  and 3,349 examples/s. Time on an idle machine before quoting any of these.
  --max-steps 50 on the full data (default 2 threads), after 50 steps:
    mnist-2c2d         validation accuracy 90.92%, test accuracy 91.45%  (41.5 s wall in all)
    fmnist-2c2d        validation accuracy 76.94%, test accuracy 76.58%  (56.9 s)
    mnist-autoencoder  reconstruction error train 52.962, validation 53.183, test 53.137  (35.1 s)
The full 5-epoch runs were not made here. Commands (torch from tools/torch-venv.sh):

    /work/torch-venv/bin/python tools/torch_deep_models.py --problem mnist-2c2d --data /work/shared/data/mnist
    /work/torch-venv/bin/python tools/torch_deep_models.py --problem fmnist-2c2d --data /usr/share/datasets/fashion-mnist
    /work/torch-venv/bin/python tools/torch_deep_models.py --problem mnist-autoencoder --data /work/shared/data/mnist
    /work/torch-venv/bin/python tools/torch_deep_models.py --problem mnist-2c2d --bench --steps 100 --repeats 3 --json
"""
import argparse
import gzip
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

PROBLEMS = ("mnist-2c2d", "fmnist-2c2d", "mnist-autoencoder")
DEFAULT_DATA = {"mnist": "/work/shared/data/mnist", "fmnist": "/usr/share/datasets/fashion-mnist"}
EXPECTED_PARAMETERS = {"2c2d": 3_274_634, "autoencoder": 2_837_314}
VALIDATION = 5_000
BATCH = 128
WARMUP = 20


def idx(path):
    """One gzipped IDX file as a numpy array of its stored shape."""
    data = gzip.open(path).read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    n = data[3]
    dims = np.frombuffer(data[4:4 + 4 * n], ">u4").astype(np.int64)
    return np.frombuffer(data[4 + 4 * n:], np.uint8).reshape(dims)


def load(directory, image_shape):
    """(train_x, train_y, test_x, test_y) as float32 tensors in [0, 1] and int64 labels."""
    def images(name):
        x = idx(os.path.join(directory, name))
        return torch.tensor(x.reshape((len(x),) + image_shape), dtype=torch.float32) / 255.0

    def labels(name):
        return torch.tensor(idx(os.path.join(directory, name)).astype(np.int64))

    return (images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz"),
            images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz"))


def model_2c2d():
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 1024), nn.ReLU(), nn.Linear(1024, 10))


def model_autoencoder():
    widths = [784, 1000, 500, 250, 30, 250, 500, 1000, 784]
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        # Sigmoid after every layer but the 30-unit code (index 3) and the output logits.
        if i != 3 and i != len(widths) - 2:
            layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def classification_loss(model, x, y):
    return nn.functional.cross_entropy(model(x), y)


def autoencoder_loss(model, x, _y):
    logits = model(x)
    return nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1).mean()


@torch.no_grad()
def accuracy(model, x, y, chunk=1000):
    correct = 0
    for b in range(0, len(x), chunk):
        correct += (model(x[b:b + chunk]).argmax(1) == y[b:b + chunk]).sum().item()
    return 100.0 * correct / len(x)


@torch.no_grad()
def reconstruction_error(model, x, _y=None, chunk=1000):
    """Mean over examples of sum over pixels of (sigmoid(logit) - x)^2."""
    total = 0.0
    for b in range(0, len(x), chunk):
        xb = x[b:b + chunk]
        total += ((torch.sigmoid(model(xb)) - xb) ** 2).sum().item()
    return total / len(x)


def setup(problem):
    """(model, loss function, image shape, data set name, kind)."""
    dataset, kind = problem.split("-", 1)
    if kind == "2c2d":
        return model_2c2d(), classification_loss, (1, 28, 28), dataset, kind
    return model_autoencoder(), autoencoder_loss, (784,), dataset, kind


def train(args, model, loss_fn, kind, x, y, xt, yt):
    perm = torch.tensor(np.random.RandomState(args.seed).permutation(len(x)))
    val, tr = perm[:VALIDATION], perm[VALIDATION:]
    xv, yv, x, y = x[val], y[val], x[tr], y[tr]
    print(f"train {len(x)}, validation {len(xv)}, test {len(xt)}")
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    steps, start, line = 0, time.perf_counter(), ""
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(x), generator=gen)
        loss_sum, seen, partial = 0.0, 0, False
        epoch_start = time.perf_counter()
        model.train()
        for b in range(0, len(x), args.batch):
            if args.max_steps is not None and steps >= args.max_steps:
                partial = True
                break
            i = order[b:b + args.batch]
            opt.zero_grad()
            loss = loss_fn(model, x[i], y[i])
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(i)
            seen += len(i)
            steps += 1
        seconds = time.perf_counter() - epoch_start
        model.eval()
        head = (f"epoch {epoch}{' (partial)' if partial else ''}: steps {steps}, "
                f"train loss {loss_sum / max(seen, 1):.4f}")
        if kind == "2c2d":
            line = (f"validation accuracy {accuracy(model, xv, yv):.2f}%, "
                    f"test accuracy {accuracy(model, xt, yt):.2f}%")
        else:
            line = (f"reconstruction error train {reconstruction_error(model, x):.3f}, "
                    f"validation {reconstruction_error(model, xv):.3f}, "
                    f"test {reconstruction_error(model, xt):.3f}")
        print(f"{head}, {line} ({seconds:.1f} s training)", flush=True)
        if partial or (args.max_steps is not None and steps >= args.max_steps):
            break
    print(f"final {args.problem} after {steps} steps ({time.perf_counter() - start:.1f} s): {line}")


def bench(args, model, loss_fn, x, y):
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)

    def step():
        i = torch.randint(0, len(x), (args.batch,), generator=gen)
        opt.zero_grad()
        loss_fn(model, x[i], y[i]).backward()
        opt.step()

    rates, cores = [], []
    for r in range(args.repeats):
        for _ in range(WARMUP):
            step()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            step()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rates.append(args.steps * args.batch / wall)
        cores.append(cpu / wall)
        if not args.json:
            print(f"repeat {r + 1}: {rates[-1]:.1f} examples/s, cores_used {cores[-1]:.2f}", flush=True)
    median = statistics.median(rates)
    if args.json:
        print(json.dumps({"problem": args.problem, "examples_per_second": [round(v, 2) for v in rates],
                          "median": round(median, 2), "cores_used": [round(v, 3) for v in cores]}))
    else:
        print(f"{args.problem}: median {median:.1f} examples/s over {args.repeats} repeats of "
              f"{args.steps} steps (batch {args.batch}, {args.threads} threads, torch {torch.__version__})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--problem", required=True, choices=PROBLEMS)
    p.add_argument("--data", help="folder of the four gzipped IDX files (default: "
                   + ", ".join(f"{k}: {v}" for k, v in DEFAULT_DATA.items()) + ")")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--max-steps", type=int, default=None, help="stop training after this many steps")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=BATCH)
    p.add_argument("--bench", action="store_true", help="time training steps only")
    p.add_argument("--steps", type=int, default=100, help="timed steps per repeat in --bench")
    p.add_argument("--repeats", type=int, default=3, help="repeats in --bench")
    p.add_argument("--json", action="store_true", help="--bench: print one JSON line")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model, loss_fn, shape, dataset, kind = setup(args.problem)
    n_params = sum(t.numel() for t in model.parameters())
    if n_params != EXPECTED_PARAMETERS[kind]:
        sys.exit(f"{args.problem}: {n_params} parameters, expected {EXPECTED_PARAMETERS[kind]}")
    data = args.data or DEFAULT_DATA[dataset]
    x, y, xt, yt = load(data, shape)
    if not args.json:
        print(f"{args.problem}: {n_params:,} parameters, data {data}, torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads, seed {args.seed}", flush=True)
    if args.bench:
        bench(args, model, loss_fn, x, y)
    else:
        train(args, model, loss_fn, kind, x, y, xt, yt)


if __name__ == "__main__":
    main()
