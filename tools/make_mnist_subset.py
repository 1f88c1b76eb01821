"""Cuts the bundled MNIST subset (data/mnist-subset/) from the full set in ../shared/data/mnist:
the first 10,000 training and the first 2,000 test images with their labels, in the original IDX
format, gzipped. Run from the repository root: python3 tools/make_mnist_subset.py"""
import gzip
import struct
import sys

SOURCE = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/mnist"
TARGET = "data/mnist-subset"
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
