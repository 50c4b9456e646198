#!/usr/bin/env bash
# Run tools/gpu_check.py on a GPU machine that has Python but no network and nothing installed.
#
#   tools/gpu_check_device.sh prepare    here, with network: pytest-carbon[gpu] and its dependencies
#                                        unpacked into .gpu-check/site (git-ignored), to be
#                                        carried to the GPU machine
#   tools/gpu_check_device.sh run OUT    there: the check with that folder on PYTHONPATH; findings in OUT
#
# The bundle is made for the Python that prepares it (PYTHON, default python3); pure-Python
# packages and psutil's abi3 wheel work on any Python 3.10 or newer.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=.gpu-check
python=${PYTHON:-python3}
case "${1:-}" in
prepare)
    rm -rf "$bundle"
    mkdir -p "$bundle/wheels" "$bundle/site"
    "$python" -m pip wheel -q --no-build-isolation -w "$bundle/wheels" ".[gpu]"
    for wheel in "$bundle"/wheels/*.whl; do
        "$python" -m zipfile -e "$wheel" "$bundle/site"
    done
    rm -rf "$bundle/wheels"
    echo "bundle: $(du -sh "$bundle" | cut -f1) in $bundle (carry it to the GPU machine)"
    ;;
run)
    out=${2:?usage: $0 run OUT}
    PYTHONPATH="$PWD/$bundle/site" PYTHONUNBUFFERED=1 "$python" tools/gpu_check.py --out "$out"
    ;;
*)
    echo "usage: $0 prepare | run OUT" >&2
    exit 2
    ;;
esac
