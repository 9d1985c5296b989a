#!/usr/bin/env bash
# The image–text–audio suite with its media stage on a GPU machine that holds the models locally: every method at
# the paper profile on a user's embedding files, the generated embeddings decoded (Stable unCLIP, AudioLDM, a
# prefix-conditioned LM) and scored by CLIPScore, CLAPScore, AIS, FID or FD-CLIP, FAD and CIDEr-D, then the report.
# Usage: bash scripts/ita_media_gpu.sh EMBEDDINGS_DIR WEIGHTS_YAML [methods] [more bench run arguments]
#   EMBEDDINGS_DIR: meta.json, train_/test_{ti,ta,ia}.npz and test_tia.npz (docs/suites-methods-metrics.md: "Media metrics"), with captions
#   WEIGHTS_YAML:   local model paths (keys in tasks/image_text_audio/media.py: WEIGHTS)
# MEDIA_SECONDS (default 600) is the media stage's time per cell: a warm-up sizes its items to it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:?"usage: $0 EMBEDDINGS_DIR WEIGHTS_YAML [methods] [bench run arguments]"}
weights=${2:?"usage: $0 EMBEDDINGS_DIR WEIGHTS_YAML [methods] [bench run arguments]"}
methods=${3:-all}
shift $(( $# < 3 ? $# : 3 ))
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
python -m bench run --suite image_text_audio --profile paper --methods "$methods" --device cuda \
    --set data.source=files --set data.root="$root" --set media.weights="$weights" \
    --set media.samples=1000 --set media.time_limit_s="${MEDIA_SECONDS:-600}" "$@"
python -m bench report --suite image_text_audio --profile paper
