"""Reference trajectories of torch.optim, for descent's `torch` convention.

Writes crates/core/tests/data/torch_trajectories.csv with columns variant,function,lr,step,x,y
(float64, printed with repr so they parse back exactly): 2-D functions, where every tensor is a
vector. Gradients come from autograd, as a PyTorch user would compute them.

Also writes crates/core/tests/data/torch_matrix_trajectories.csv (columns
variant,lr,step,index,value): the optimizers that need matrix shapes (Adafactor, Muon) on a
least-squares problem with a tall matrix W1 (5 x 3), a wide one W2 (3 x 4) and a vector b (4):
    L = 1/2 |X1 W1 - Y1|^2 + 1/2 |X2 W2 - Y2|^2 + 1/4 sum (b - t)^4,
with data that are exact binary fractions (see matrix_problem). torch.optim.Muon computes its
Newton-Schulz iteration in bfloat16; the recording replaces that one function by the same code
without the cast, so that float64 iterates can be compared (descent iterates in the parameters'
type). Muon refuses vectors: b is stepped by AdamW with the same lr and weight decay, as its
documentation advises. Regenerate with:

    python3 tools/torch_reference.py   # needs `pip install torch` (measured with 2.15.0)

Also writes crates/core/tests/data/torch_group_trajectories.csv (columns as the first file):
parameter groups, PyTorch's `param_groups` with values of their own. x and y are two tensors,
x in group 0 and y in group 1, each group setting hyperparameters that override the
optimizer's (the variant names them, group by group; see GROUP_VARIANTS).

The rows of the first 14 variants were recorded earlier; the later variants were appended from
a run of this script with torch 2.15.0+cu132 on CPU, whose rows for the first 14 differ from the
recorded ones by at most 1.1e-16 relative (the last bit of some Adam, NAdam and AdaDelta steps).
"""
import csv
import os
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
    "adamax": (lambda p, lr: O.Adamax(p, lr=lr), 0.05, 0.05),
    # The first steps are momentum SGD (not yet rectified): SGD's rates.
    "radam": (lambda p, lr: O.RAdam(p, lr=lr), 5e-4, 0.019),
    # A 2-D point is a vector: Adafactor's unfactored path, and Muon's AdamW fallback (its
    # defaults: weight decay 0.1).
    "adafactor": (lambda p, lr: O.Adafactor(p, lr=lr), 0.05, 0.05),
    "muon": (lambda p, lr: O.AdamW(p, lr=lr, weight_decay=0.1), 0.05, 0.05),
    # Options beyond the defaults.
    "momentum+dampening=0.1+weight_decay=0.01": (
        lambda p, lr: O.SGD(p, lr=lr, momentum=0.9, dampening=0.1, weight_decay=0.01), 5e-4, 0.019),
    "rmsprop+momentum=0.5+centered": (
        lambda p, lr: O.RMSprop(p, lr=lr, momentum=0.5, centered=True), 0.005, 0.005),
    "adam+weight_decay=0.01": (lambda p, lr: O.Adam(p, lr=lr, weight_decay=0.01), 0.05, 0.05),
    "adagrad+lr_decay=0.01+initial_accumulator=0.1": (
        lambda p, lr: O.Adagrad(p, lr=lr, lr_decay=0.01, initial_accumulator_value=0.1), 0.1, 0.1),
    "adamax+weight_decay=0.01": (lambda p, lr: O.Adamax(p, lr=lr, weight_decay=0.01), 0.05, 0.05),
    "radam+weight_decay=0.1+decoupled": (
        lambda p, lr: O.RAdam(p, lr=lr, weight_decay=0.1, decoupled_weight_decay=True), 5e-4, 0.019),
    "adafactor+weight_decay=0.1": (lambda p, lr: O.Adafactor(p, lr=lr, weight_decay=0.1), 0.05, 0.05),
    "nadam+weight_decay=0.1+decoupled": (
        lambda p, lr: O.NAdam(p, lr=lr, weight_decay=0.1, decoupled_weight_decay=True), 0.05, 0.05),
    "amsgrad+weight_decay=0.1+decoupled": (
        lambda p, lr: O.AdamW(p, lr=lr, weight_decay=0.1, amsgrad=True), 0.05, 0.05),
    "nadam+momentum_decay=0.01": (lambda p, lr: O.NAdam(p, lr=lr, momentum_decay=0.01), 0.05, 0.05),
}
STEPS = 200


def _newton_schulz_float64(grad, ns_coefficients, ns_steps, eps):
    """torch.optim._muon._zeropower_via_newtonschulz without its cast to bfloat16."""
    a, b, c = ns_coefficients
    ortho_grad = grad.clone()
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    ortho_grad.div_(ortho_grad.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram_matrix = ortho_grad @ ortho_grad.T
        gram_update = torch.addmm(gram_matrix, gram_matrix, gram_matrix, beta=b, alpha=c)
        ortho_grad = torch.addmm(ortho_grad, gram_update, ortho_grad, beta=a)
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    return ortho_grad


def matrix_problem():
    """Data whose every entry is an exact binary fraction, so both sides build the same numbers."""
    def table(rows, cols, seed):
        return torch.tensor([[((i * 7 + j * 3 + seed) % 11 - 5) / 4 for j in range(cols)] for i in range(rows)])
    x1, y1 = table(6, 5, 0), table(6, 3, 1)
    x2, y2 = table(2, 3, 2), table(2, 4, 3)
    target = torch.tensor([0.5, -1.0, 1.5, 0.25])
    start = (table(5, 3, 4) / 2, table(3, 4, 5) / 2, torch.tensor([1.0, 0.0, -0.5, 2.0]))

    def loss(w1, w2, b):
        return (0.5 * ((x1 @ w1 - y1) ** 2).sum() + 0.5 * ((x2 @ w2 - y2) ** 2).sum()
                + 0.25 * ((b - target) ** 4).sum())
    return start, loss


# variant -> (lr, optimizers over (w1, w2, b))
MATRIX_VARIANTS = {
    "adafactor": (0.05, lambda w1, w2, b, lr: [O.Adafactor([w1, w2, b], lr=lr)]),
    "adafactor+weight_decay=0.1": (0.05, lambda w1, w2, b, lr: [O.Adafactor([w1, w2, b], lr=lr, weight_decay=0.1)]),
    "muon": (0.02, lambda w1, w2, b, lr: [O.Muon([w1, w2], lr=lr), O.AdamW([b], lr=lr, weight_decay=0.1)]),
    "muon+momentum=0.9+weight_decay=0.01": (0.02, lambda w1, w2, b, lr: [
        O.Muon([w1, w2], lr=lr, momentum=0.9, weight_decay=0.01), O.AdamW([b], lr=lr, weight_decay=0.01)]),
}
MATRIX_STEPS = 50


def record_matrices(path):
    torch.optim._muon._zeropower_via_newtonschulz = _newton_schulz_float64
    (w1_start, w2_start, b_start), loss = matrix_problem()
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["variant", "lr", "step", "index", "value"])
        for variant, (lr, make) in MATRIX_VARIANTS.items():
            tensors = [t.clone().requires_grad_(True) for t in (w1_start, w2_start, b_start)]
            optimizers = make(*tensors, lr)
            for step in range(MATRIX_STEPS + 1):
                if step > 0:
                    for optimizer in optimizers:
                        optimizer.zero_grad()
                    loss(*tensors).backward()
                    for optimizer in optimizers:
                        optimizer.step()
                flat = torch.cat([t.detach().reshape(-1) for t in tensors]).tolist()
                for index, value in enumerate(flat):
                    writer.writerow([variant, repr(lr), step, index, repr(value)])


# variant "NAME/GROUP0/GROUP1" (each group's options as descent names them, joined by "+"; "-"
# for none) -> (constructor, lr on rosenbrock, lr on the quadratic). The options given to the
# constructor are the optimizer's defaults, which the groups' values override.
GROUP_VARIANTS = {
    "momentum/momentum=0.5/-": (lambda g, lr: O.SGD(g, lr=lr, momentum=0.9), 5e-4, 0.019),
    "momentum/lr_scale=2+weight_decay=0.1/momentum=0.5+dampening=0.25": (
        lambda g, lr: O.SGD(g, lr=lr, momentum=0.9), 5e-4, 0.019),
    "adam/beta1=0.8+beta2=0.99/eps=0.001": (lambda g, lr: O.Adam(g, lr=lr), 0.05, 0.05),
    "adamw/beta2=0.9+weight_decay=0.1/beta1=0.5+eps=1e-06": (lambda g, lr: O.AdamW(g, lr=lr), 0.05, 0.05),
    "rmsprop/rho=0.9+eps=0.01/momentum=0.5": (lambda g, lr: O.RMSprop(g, lr=lr, momentum=0.2), 0.005, 0.005),
    # (A group's initial_accumulator_value is not used: Adagrad fills every group's sum from the
    # constructor's value, so descent refuses it per group.)
    "adagrad/eps=0.1/lr_decay=0.01": (lambda g, lr: O.Adagrad(g, lr=lr), 0.1, 0.1),
    "nadam/beta2=0.99+eps=0.001/-": (lambda g, lr: O.NAdam(g, lr=lr), 0.05, 0.05),
    "adamax/beta1=0.5/beta2=0.9+eps=0.01": (lambda g, lr: O.Adamax(g, lr=lr), 0.05, 0.05),
    "radam/beta1=0.8/beta2=0.99": (lambda g, lr: O.RAdam(g, lr=lr), 5e-4, 0.019),
    "adadelta/rho=0.5/eps=0.0001": (lambda g, lr: O.Adadelta(g, lr=lr), 1.0, 1.0),
}


def torch_group_options(name, text, lr):
    """descent's names of a group's options -> the keys of a PyTorch param group."""
    options = {}
    for option in [] if text == "-" else text.split("+"):
        key, value = option.split("=")
        value = float(value)
        if key == "lr_scale":
            options["lr"] = lr * value
        elif key in ("beta1", "beta2"):
            options[key] = value
        elif key == "rho":
            options["alpha" if name == "rmsprop" else "rho"] = value  # RMSprop calls ρ alpha
        else:
            options[key] = value
    return options


def record_groups(path):
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["variant", "function", "lr", "step", "x", "y"])
        for variant, (make, lr_rosenbrock, lr_quadratic) in GROUP_VARIANTS.items():
            name, first, second = variant.split("/")
            for function, (f, start) in FUNCTIONS.items():
                lr = lr_rosenbrock if function == "rosenbrock" else lr_quadratic
                x = torch.tensor(start[0], requires_grad=True)
                y = torch.tensor(start[1], requires_grad=True)
                groups = []
                for tensor, text in ((x, first), (y, second)):
                    options = torch_group_options(name, text, lr)
                    if "beta1" in options or "beta2" in options:
                        # A group's betas replace the optimizer's pair whole: give both.
                        defaults = make([torch.zeros(1, requires_grad=True)], lr).defaults["betas"]
                        options["betas"] = (options.pop("beta1", defaults[0]), options.pop("beta2", defaults[1]))
                    groups.append({"params": [tensor], **options})
                optimizer = make(groups, lr)
                writer.writerow([variant, function, repr(lr), 0, repr(start[0]), repr(start[1])])
                for step in range(1, STEPS + 1):
                    optimizer.zero_grad()
                    f(x, y).backward()
                    optimizer.step()
                    writer.writerow([variant, function, repr(lr), step, repr(x.item()), repr(y.item())])


def main(path):
    record_matrices(os.path.join(os.path.dirname(path), "torch_matrix_trajectories.csv"))
    record_groups(os.path.join(os.path.dirname(path), "torch_group_trajectories.csv"))
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
