"""Calibrates crates/core/tests/train.rs::learns_mnist_on_the_bundled_subset: PyTorch on the same
setting (3,000 of the bundled training images, the 2,000 bundled test images, Glorot uniform, Adam,
batch 32, 5 epochs). Measured with torch 2.15: logistic regression (lr 0.01) 12.7-14.3% test
error over seeds 0-2, 784-128-10 ReLU MLP (lr 1e-3) 10.9-11.8%. Run from the repository root."""
import gzip, numpy as np, torch
torch.manual_seed(0)
def idx(p): d = gzip.open(p).read(); n = d[3]; dims = np.frombuffer(d[4:4+4*n], '>u4'); return np.frombuffer(d[4+4*n:], np.uint8).reshape(dims)
X = idx('crates/core/data/mnist-subset/train-images-idx3-ubyte.gz')[:4000].reshape(-1, 784) / 255.0; y = idx('crates/core/data/mnist-subset/train-labels-idx1-ubyte.gz')[:4000]
Xt = idx('crates/core/data/mnist-subset/t10k-images-idx3-ubyte.gz').reshape(-1, 784) / 255.0; yt = idx('crates/core/data/mnist-subset/t10k-labels-idx1-ubyte.gz')
perm = np.random.RandomState(1).permutation(4000); tr = perm[1000:]
X, y = torch.tensor(X[tr], dtype=torch.float32), torch.tensor(y[tr].astype(np.int64)); Xt, yt = torch.tensor(Xt, dtype=torch.float32), torch.tensor(yt.astype(np.int64))
for hidden, lr in [([], 0.01), ([128], 1e-3)]:
    errs = []
    for seed in range(3):
        torch.manual_seed(seed)
        widths = [784] + hidden + [10]; layers = []
        for i in range(len(widths) - 1):
            l = torch.nn.Linear(widths[i], widths[i+1]); torch.nn.init.xavier_uniform_(l.weight); torch.nn.init.zeros_(l.bias); layers.append(l)
            if i < len(widths) - 2: layers.append(torch.nn.ReLU())
        m = torch.nn.Sequential(*layers); opt = torch.optim.Adam(m.parameters(), lr=lr)
        for epoch in range(5):
            p = torch.randperm(len(X))
            for b in range(0, len(X), 32):
                i = p[b:b+32]; opt.zero_grad(); torch.nn.functional.cross_entropy(m(X[i]), y[i]).backward(); opt.step()
        errs.append((m(Xt).argmax(1) != yt).float().mean().item())
    print(hidden, lr, "test errors over 3 seeds:", [round(e, 4) for e in errs])
