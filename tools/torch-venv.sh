#!/usr/bin/env bash
# Creates the PyTorch virtual environment that tools/torch_deep_models.py (and the other torch_*
# scripts) run in, outside the repository: /work/torch-venv, or the folder given as $1.
# PyPI has no CPU-only torch wheel for Linux x86-64, so this installs the default one (CUDA 13.2
# build, 2.15.0+cu132) with its nvidia-* libraries: about 3.0 GB downloaded, 5.4 GB on disk,
# 95 s here. It runs on the CPU; the CUDA libraries are just carried along.
# Pins every package as first installed (python 3.11, pip 26.3).
set -euo pipefail
VENV="${1:-/work/torch-venv}"
python3 -m venv "$VENV"
"$VENV/bin/pip" install pip==26.3
"$VENV/bin/pip" install -r /dev/stdin <<'REQUIREMENTS'
cuda-bindings==13.5.0
cuda-pathfinder==1.9.1
cuda-toolkit==13.2.2
filelock==4.3.1
fsspec==2026.9.0
Jinja2==3.1.6
MarkupSafe==3.0.4
mpmath==1.3.0
networkx==3.6.1
numpy==2.4.6
nvidia-cublas==13.4.1.3
nvidia-cuda-cccl==13.3.5.0.6
nvidia-cuda-cupti==13.2.86
nvidia-cuda-nvrtc==13.2.86
nvidia-cuda-runtime==13.2.86
nvidia-cudnn-cu13==9.26.0.51
nvidia-cufft==12.2.0.57
nvidia-cufile==1.17.1.22
nvidia-cusolver==12.2.0.11
nvidia-cusparse==12.7.10.12
nvidia-cusparselt-cu13==0.8.1
nvidia-nccl-cu13==2.30.7
nvidia-nvjitlink==13.5.37
nvidia-nvshmem-cu13==3.7.2
nvidia-nvtx==13.2.86
sympy==1.14.0
torch==2.15.0
triton==3.9.0
typing_extensions==4.16.0
setuptools==84.2.1
REQUIREMENTS
"$VENV/bin/python" -c 'import torch, numpy; print("torch", torch.__version__, "numpy", numpy.__version__)'
