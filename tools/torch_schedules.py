"""Learning rates of torch.optim.lr_scheduler, step by step, for descent's schedules.

Writes crates/optim/tests/data/torch_schedules.csv with columns schedule,step,lr: for each of
descent's schedule texts below, the rate PyTorch's scheduler gives the update numbered `step`
(0 for the first), read from the optimizer before `optimizer.step()` and followed by
`scheduler.step()`, as a training loop uses it. Base rate 0.1, 300 updates. Regenerate with:

    /work/torch-venv/bin/python tools/torch_schedules.py   # measured with torch 2.15.0
"""
import csv
import sys

import torch

S = torch.optim.lr_scheduler
BASE_LR = 0.1
STEPS = 300

# descent's --schedule text -> the PyTorch scheduler that should give the same rates
SCHEDULES = {
    "multi-step:at=50/120/200,gamma=0.5": lambda o: S.MultiStepLR(o, milestones=[50, 120, 200], gamma=0.5),
    "polynomial:steps=250,power=2": lambda o: S.PolynomialLR(o, total_iters=250, power=2.0),
    "polynomial:steps=300,power=1": lambda o: S.PolynomialLR(o, total_iters=300, power=1.0),
    # OneCycleLR also cycles momentum by default; descent's schedule is the rate only.
    "one-cycle:steps=300": lambda o: S.OneCycleLR(o, max_lr=BASE_LR, total_steps=300, cycle_momentum=False),
    "one-cycle:steps=300,pct=0.25,div=10,final-div=100": lambda o: S.OneCycleLR(
        o, max_lr=BASE_LR, total_steps=300, pct_start=0.25, div_factor=10.0, final_div_factor=100.0,
        cycle_momentum=False),
    "cosine-restarts:period=40": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=40),
    "cosine-restarts:period=20,mult=2,min=0.1": lambda o: S.CosineAnnealingWarmRestarts(
        o, T_0=20, T_mult=2, eta_min=0.1 * BASE_LR),
    # CosineAnnealingLR rises again past T_max (descent's `cosine` holds the floor instead).
    "cosine-annealing:period=70": lambda o: S.CosineAnnealingLR(o, T_max=70),
    "cosine-annealing:period=100,min=0.2": lambda o: S.CosineAnnealingLR(o, T_max=100, eta_min=0.2 * BASE_LR),
    "constant-factor:factor=0.25,steps=30": lambda o: S.ConstantLR(o, factor=0.25, total_iters=30),
}


def main(path):
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["schedule", "step", "lr"])
        for text, make in SCHEDULES.items():
            parameter = torch.zeros(1, requires_grad=True)
            optimizer = torch.optim.SGD([parameter], lr=BASE_LR)
            scheduler = make(optimizer)
            for step in range(STEPS):
                writer.writerow([text, step, repr(optimizer.param_groups[0]["lr"])])
                optimizer.step()
                scheduler.step()
    print(f"wrote {path} with torch {torch.__version__}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "crates/optim/tests/data/torch_schedules.csv")
