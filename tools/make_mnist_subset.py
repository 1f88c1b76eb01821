"""Cuts a bundled subset (crates/core/data/mnist-subset/ or crates/core/data/fashion-mnist-subset/) from the full set: the
first 10,000 training and the first 2,000 test images with their labels, in the original IDX
format, gzipped with mtime 0 so that the bytes are the same on every run. Prints the label counts
of the training subset. Run from the repository root:

    python3 tools/make_mnist_subset.py                  # MNIST, from ../shared/data/mnist
    python3 tools/make_mnist_subset.py fashion-mnist    # Fashion-MNIST, from Debian's
                                                        # dataset-fashion-mnist package

A second argument names another source folder holding the four standard .gz files."""
import gzip
import struct
import sys

SETS = {
    "mnist": ("../shared/data/mnist", "crates/core/data/mnist-subset"),
    "fashion-mnist": ("/usr/share/datasets/fashion-mnist", "crates/core/data/fashion-mnist-subset"),
}
if len(sys.argv) > 3 or (len(sys.argv) > 1 and sys.argv[1] not in SETS):
    sys.exit(f"usage: python3 tools/make_mnist_subset.py [{'|'.join(SETS)} [SOURCE]]")
SET = sys.argv[1] if len(sys.argv) > 1 else "mnist"
SOURCE = sys.argv[2] if len(sys.argv) > 2 else SETS[SET][0]
TARGET = SETS[SET][1]
FILES = [("train-images-idx3-ubyte", 10_000), ("train-labels-idx1-ubyte", 10_000),
         ("t10k-images-idx3-ubyte", 2_000), ("t10k-labels-idx1-ubyte", 2_000)]

for name, count in FILES:
    data = gzip.open(f"{SOURCE}/{name}.gz").read()
    ndims = data[3]
    dims = list(struct.unpack(f">{ndims}I", data[4:4 + 4 * ndims]))
    item = 1
    for d in dims[1:]:
        item *= d
    header = data[:4] + struct.pack(f">{ndims}I", count, *dims[1:])
    body = data[4 + 4 * ndims:4 + 4 * ndims + count * item]
    with gzip.GzipFile(f"{TARGET}/{name}.gz", "wb", mtime=0) as out:
        out.write(header + body)
    print(name, dims, "->", [count] + dims[1:])
    if name == "train-labels-idx1-ubyte":
        print("  label counts 0-9:", [body.count(label) for label in range(10)])
