"""Reference trajectories of torch.optim on 2-D functions, for descent's `torch` convention.

Writes crates/core/tests/data/torch_trajectories.csv with columns variant,function,lr,step,x,y
(float64, printed with repr so they parse back exactly). Gradients come from autograd, as a
PyTorch user would compute them. Regenerate with:

    python3 tools/torch_reference.py   # needs `pip install torch` (measured with 2.15.0)
"""
import csv
import sys

import torch

torch.set_default_dtype(torch.float64)

FUNCTIONS = {
    "rosenbrock": (lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2, (-1.5, 2.0)),
    "quadratic": (lambda x, y: 0.5 * (x**2 + 100.0 * y**2), (-1.5, 0.5)),
}

# variant -> (constructor, lr on rosenbrock, lr on the quadratic)
O = torch.optim
VARIANTS = {
    "sgd": (lambda p, lr: O.SGD(p, lr=lr), 5e-4, 0.019),
    "momentum": (lambda p, lr: O.SGD(p, lr=lr, momentum=0.9), 5e-4, 0.019),
    "nesterov": (lambda p, lr: O.SGD(p, lr=lr, momentum=0.9, nesterov=True), 5e-4, 0.019),
    "adagrad": (lambda p, lr: O.Adagrad(p, lr=lr), 0.1, 0.1),
    "rmsprop": (lambda p, lr: O.RMSprop(p, lr=lr), 0.01, 0.01),
    "adam": (lambda p, lr: O.Adam(p, lr=lr), 0.05, 0.05),
    "adamw": (lambda p, lr: O.AdamW(p, lr=lr), 0.05, 0.05),
    "amsgrad": (lambda p, lr: O.Adam(p, lr=lr, amsgrad=True), 0.05, 0.05),
    "nadam": (lambda p, lr: O.NAdam(p, lr=lr), 0.05, 0.05),
    "adadelta": (lambda p, lr: O.Adadelta(p, lr=lr), 1.0, 1.0),
    # Options beyond the defaults.
    "momentum+dampening=0.1+weight_decay=0.01": (
        lambda p, lr: O.SGD(p, lr=lr, momentum=0.9, dampening=0.1, weight_decay=0.01), 5e-4, 0.019),
    "rmsprop+momentum=0.5+centered": (
        lambda p, lr: O.RMSprop(p, lr=lr, momentum=0.5, centered=True), 0.005, 0.005),
    "adam+weight_decay=0.01": (lambda p, lr: O.Adam(p, lr=lr, weight_decay=0.01), 0.05, 0.05),
    "adagrad+lr_decay=0.01+initial_accumulator=0.1": (
        lambda p, lr: O.Adagrad(p, lr=lr, lr_decay=0.01, initial_accumulator_value=0.1), 0.1, 0.1),
}
STEPS = 200


def main(path):
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["variant", "function", "lr", "step", "x", "y"])
        for variant, (make, lr_rosenbrock, lr_quadratic) in VARIANTS.items():
            for function, (f, start) in FUNCTIONS.items():
                lr = lr_rosenbrock if function == "rosenbrock" else lr_quadratic
                theta = torch.tensor(start, requires_grad=True)
                optimizer = make([theta], lr)
                writer.writerow([variant, function, repr(lr), 0, repr(start[0]), repr(start[1])])
                for step in range(1, STEPS + 1):
                    optimizer.zero_grad()
                    f(theta[0], theta[1]).backward()
                    optimizer.step()
                    x, y = theta.detach().tolist()
                    writer.writerow([variant, function, repr(lr), step, repr(x), repr(y)])
    print(f"wrote {path} with torch {torch.__version__}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "crates/core/tests/data/torch_trajectories.csv")
