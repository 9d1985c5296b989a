#!/usr/bin/env bash
# The paper profile of a suite on one GPU: every method, one seed, each method in its own process so the
# launch-bound small networks share the GPU. Records go to $RESULTS (default results/) as usual; each process
# gets its own MLflow sqlite store to avoid write locks. With BUDGET_S set, a 40-step probe of every method
# (run in parallel, as the real runs are) measures the time per step, and the step count is lowered to fit
# BUDGET_S seconds of training if the profile's does not; the records then say `--set train.steps=N`. Usage:
#   [BUDGET_S=300] scripts/gpu_paper_profile.sh [suite] [extra bench run arguments]
set -uo pipefail
SUITE=${1:-gaussian_mixture}
shift || true
PROFILE=${PROFILE:-paper}
DEVICE=${DEVICE:-cuda}
RESULTS=$(realpath -m "${RESULTS:-results}")
LOGS=${LOGS:-$RESULTS/gpu-logs}
mkdir -p "$LOGS"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
if [ "$DEVICE" = cuda ]; then
    python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))" \
        || exit 1
fi
# fail fast: a few steps of one method on the device before the real runs
python3 -m bench run --methods muni --suite "$SUITE" --profile smoke --device "$DEVICE" --out /tmp/gpu-smoke --quiet \
    --set train.steps=5 || exit 1
METHODS=$(python3 -c "from methods import METHODS; print(' '.join(METHODS.names()))")
extra=()
if [ -n "${BUDGET_S:-}" ]; then
    for method in $METHODS; do
        python3 -m bench run --methods "$method" --suite "$SUITE" --profile "$PROFILE" --device "$DEVICE" --out /tmp/gpu-probe \
            --tracking-uri "sqlite:////tmp/gpu-probe-$method.db" --quiet --set train.steps=40 \
            --set eval.n_samples=100 > "$LOGS/probe-$method.log" 2>&1 &
    done
    wait
    steps=$(python3 - "$BUDGET_S" "$SUITE" "$PROFILE" <<'PY'
import pathlib, sys
from bench.core.config import resolve
from bench.core.records import read_records
records = read_records(pathlib.Path("/tmp/gpu-probe"), warn=lambda _: None)
per_step = max(r.wall_time["train"] / 40 for r in records if r.status == "ok")
full = resolve(sys.argv[2], "muni", 0, sys.argv[3]).train.steps
print(max(100, min(full, int(float(sys.argv[1]) / per_step) // 100 * 100)))
print(f"probe: {per_step * 1000:.1f} ms per step with every method running", file=sys.stderr)
PY
)
    echo "training steps: $steps"
    extra=(--set "train.steps=$steps")
fi
start=$(date +%s)
pids=()
for method in $METHODS; do
    python3 -m bench run --methods "$method" --suite "$SUITE" --profile "$PROFILE" --device "$DEVICE" --seeds 0 \
        --out "$RESULTS" --tracking-uri "sqlite:///$RESULTS/mlflow-gpu-$method.db" --quiet "${extra[@]}" "$@" \
        > "$LOGS/$method.log" 2>&1 &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
echo "all methods finished in $(( $(date +%s) - start )) s (exit status $status)"
tail -n 2 "$LOGS"/*.log
exit $status
