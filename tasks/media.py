"""What the media stages of suites share: the weights file (`--set media.weights=FILE`) naming local model paths,
and the record of one media metric: ok with its value and what defines it, skipped naming what is missing (never a
number), or unsupported."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from base.results import MetricResult
from metrics.media.judges import MissingWeights

WEIGHTS = {
    "unclip": "image decoder: a Stable unCLIP directory for CLIP ViT-L/14 (stable-diffusion-2-1-unclip-small)",
    "audioldm": "audio decoder: an AudioLDM directory (audioldm-m-full)",
    "text_lm": "text decoder: a causal language model directory (gemma-3-1b)",
    "text_projector": "text decoder: the prefix projector's state dict (.pt)",
    "clip": "CLIP ViT-L/14 directory (CLIPScore, FD-CLIP)",
    "clip_b32": "CLIP ViT-B/32 directory (AIS, image side)",
    "clap": "CLAP: a transformers directory, or a LAION-CLAP checkpoint file (CLAPScore, FAD on CLAP)",
    "clap_config": "for a LAION-CLAP checkpoint: a directory with the transformers config.json and tokenizer",
    "wav2clip": "Wav2CLIP checkpoint (AIS, audio side)",
    "inception": "Inception-v3 weights for FID (pt_inception-2015-12-05)",
    "vggish": "VGGish checkpoint for FAD (vggish-10086976.pth)",
}


def read_weights(path: str) -> dict[str, str]:
    """The weights file: `key: local path` per model. Unknown keys are refused; relative paths are taken from the
    file's directory."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(f"media.weights: no such file {file}")
    try:
        listed = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"media.weights: {file} is not YAML ({err})") from None
    if not isinstance(listed, dict):
        raise ValueError(f"media.weights: {file} must map model names to local paths")
    unknown = sorted(set(listed) - set(WEIGHTS))
    if unknown:
        raise ValueError(f"media.weights: {file} names unknown models {', '.join(unknown)}; known: "
                         f"{', '.join(WEIGHTS)}")
    return {k: str(file.parent / Path(str(v)).expanduser()) for k, v in listed.items() if v}


@dataclass
class MediaResult(MetricResult):
    status: str = "ok"  # ok | skipped | unsupported
    missing: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return super().as_dict() | {"status": self.status, "missing": self.missing, **self.details}


def ideal(higher: bool) -> str:
    return "higher" if higher else "lower"


def skipped(err: Exception, higher: bool) -> MediaResult:
    return MediaResult(None, ideal(higher), status="skipped", missing=[str(err).strip("'\"")])


def guarded(score: Callable[[], dict], higher: bool, n: int) -> MediaResult:
    """One media value, or the reason it could not be computed."""
    try:
        out = score()
    except MissingWeights as err:
        return skipped(err, higher)
    value = out.pop("value")
    return MediaResult(value, ideal(higher), n=out.pop("n", n), details=out)
