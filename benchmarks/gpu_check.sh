#!/usr/bin/env bash
# Paper-size GPU check: run from the repository root on a machine with a GPU.
# Uses the machine's own torch when chanpos is importable from src/; nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no GPU visible'; print(torch.cuda.get_device_name(0))"
"$PY" benchmarks/gpu_check.py "$@"
