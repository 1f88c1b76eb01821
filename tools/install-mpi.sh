#!/usr/bin/env bash
# Installs what the MPI build and its tests need, if it is missing: Open MPI (the library, its
# headers and mpirun) and libclang, which rsmpi's build uses to read mpi.h. Safe to run again: it
# installs only what is absent.
set -euo pipefail

missing=0
command -v mpirun >/dev/null || missing=1
[ -e /usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h ] || missing=1
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || missing=1
if [ "$missing" -eq 1 ]; then
    echo "installing Open MPI and libclang (Debian packages)..."
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libopenmpi-dev openmpi-bin libclang-dev >/dev/null
fi
