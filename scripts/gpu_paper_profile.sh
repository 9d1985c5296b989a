#!/usr/bin/env bash
# The paper profile of a suite on one GPU: every method, one seed, each method in its own process so the
# launch-bound small networks share the GPU. Records go to $RESULTS (default results/) as usual; each process
# gets its own MLflow sqlite store to avoid write locks. Usage:
#   scripts/gpu_paper_profile.sh [suite] [extra bench run arguments, e.g. --set train.steps=4000]
set -uo pipefail
SUITE=${1:-gaussian_mixture}
shift || true
RESULTS=${RESULTS:-results}
LOGS=${LOGS:-$RESULTS/gpu-logs}
mkdir -p "$LOGS"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))" || exit 1
# fail fast: a few steps of one method on the GPU before the real runs
python3 -m bench run --methods muni --suite "$SUITE" --profile smoke --device cuda --out /tmp/gpu-smoke --quiet \
    --set train.steps=5 || exit 1
start=$(date +%s)
pids=()
for method in $(python3 -c "from methods import METHODS; print(' '.join(METHODS.names()))"); do
    python3 -m bench run --methods "$method" --suite "$SUITE" --profile paper --device cuda --seeds 0 \
        --out "$RESULTS" --tracking-uri "sqlite:///$PWD/$RESULTS/mlflow-gpu-$method.db" --quiet "$@" \
        > "$LOGS/$method.log" 2>&1 &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
echo "all methods finished in $(( $(date +%s) - start )) s (exit status $status)"
tail -n 2 "$LOGS"/*.log
exit $status
