"""The judge models of the media metrics, loaded from local directories only (the layout `save_pretrained` writes:
config.json, weights, tokenizer and processor files); nothing is ever downloaded. A missing directory or an empty
tokenizer (offline transformers builds one silently when vocabulary files are missing) raises MissingWeights naming
the path, so a metric is skipped with a reason instead of scoring garbage. transformers is the `media` extra."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

CLAP_RATE = 48_000  # LAION-CLAP's sampling rate (transformers' ClapFeatureExtractor default)


class MissingWeights(FileNotFoundError):
    pass


def local_dir(path: str | Path | None, what: str) -> Path:
    if not path:
        raise MissingWeights(f"{what}: no local path given")
    root = Path(path).expanduser()
    if not (root / "config.json").is_file():
        raise MissingWeights(f"{what}: no model at {root} (expected a directory written by save_pretrained, with "
                             "config.json; this harness never downloads weights)")
    return root


def checked_tokenizer(tokenizer: Any, root: Path) -> Any:
    if len(tokenizer) <= 100:
        raise MissingWeights(f"the tokenizer at {root} has {len(tokenizer)} tokens: its vocabulary files are missing")
    return tokenizer


def text_length(tokenizer: Any, positions: int) -> int:
    """The longest token sequence a text tower takes: the tokenizer's own limit when it has one, else the model's
    position table (RoBERTa-style towers reserve two positions for the padding offset)."""
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if limit and limit < 100_000 else positions


def pooled(output: Any) -> Tensor:
    """transformers 5 returns model outputs from get_*_features where 4.x returned the projected tensor."""
    return getattr(output, "pooler_output", output)


class ClipJudge(nn.Module):
    """CLIP (transformers CLIPModel) image and text embeddings. As a module it maps uint8 images (N, 3, H, W) to
    image embeddings, so it serves as a Fréchet feature extractor (FD-CLIP) too."""

    def __init__(self, path: str | Path):
        super().__init__()
        from transformers import CLIPModel, CLIPProcessor

        self.root = local_dir(path, "CLIP")
        self.model = CLIPModel.from_pretrained(self.root).eval()
        self.processor = CLIPProcessor.from_pretrained(self.root)
        checked_tokenizer(self.processor.tokenizer, self.root)
        model = self.model  # torchmetrics' CLIPScore expects the 4.x tensors (spec metrics §3.4)
        model.get_image_features = lambda *a, **k: pooled(type(model).get_image_features(model, *a, **k))
        model.get_text_features = lambda *a, **k: pooled(type(model).get_text_features(model, *a, **k))
        self.num_features = model.config.projection_dim

    @property
    def name(self) -> str:
        return self.root.name

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        pixels = self.processor(images=[i.cpu() for i in images], return_tensors="pt")["pixel_values"]
        return self.model.get_image_features(pixel_values=pixels.to(self.device)).float()

    @torch.no_grad()
    def texts(self, captions: list[str]) -> Tensor:
        length = text_length(self.processor.tokenizer, self.model.config.text_config.max_position_embeddings)
        tokens = self.processor(text=captions, return_tensors="pt", padding=True, truncation=True, max_length=length)
        return self.model.get_text_features(**{k: v.to(self.device) for k, v in tokens.items()}).float()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


class ClapJudge(nn.Module):
    """CLAP (transformers ClapModel, HTSAT audio branch without fusion, as LAION-CLAP HTSAT-base) audio and text
    embeddings. As a module it maps waveforms (N, T) at `rate` Hz to audio embeddings (a Fréchet feature
    extractor for FAD on CLAP)."""

    def __init__(self, path: str | Path, rate: int = CLAP_RATE):
        super().__init__()
        from transformers import ClapModel, ClapProcessor

        self.root = local_dir(path, "CLAP")
        self.model = ClapModel.from_pretrained(self.root).eval()
        self.processor = ClapProcessor.from_pretrained(self.root)
        self.processor.feature_extractor.truncation = "rand_trunc"  # one channel: the non-fusion HTSAT
        checked_tokenizer(self.processor.tokenizer, self.root)
        self.rate = rate
        self.num_features = self.model.config.projection_dim

    @property
    def name(self) -> str:
        return self.root.name

    @torch.no_grad()
    def forward(self, waveforms: Tensor) -> Tensor:
        clips = [resample(w.double().cpu().numpy(), self.rate, CLAP_RATE) for w in waveforms]
        features = self.processor.feature_extractor(clips, sampling_rate=CLAP_RATE, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in features.items()}
        return pooled(self.model.get_audio_features(**inputs)).float()

    @torch.no_grad()
    def texts(self, captions: list[str]) -> Tensor:
        length = text_length(self.processor.tokenizer, self.model.config.text_config.max_position_embeddings - 2)
        tokens = self.processor.tokenizer(captions, return_tensors="pt", padding=True, truncation=True,
                                          max_length=length)
        return pooled(self.model.get_text_features(**{k: v.to(self.device) for k, v in tokens.items()})).float()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    if rate == target:
        return wave.astype(np.float32)
    g = gcd(rate, target)
    return resample_poly(wave, target // g, rate // g).astype(np.float32)


def inception(weights: str | Path | None) -> nn.Module | None:
    """torchmetrics' Inception-v3 (pool3, 2048-d, the FID network) from local weights, or None where torch-fidelity
    (which needs torchvision) cannot be imported; FID then falls back to FD-CLIP, named so."""
    if not weights:
        return None
    path = Path(weights).expanduser()
    if not path.is_file():
        raise MissingWeights(f"Inception: no weights file at {path}")
    try:
        from torchmetrics.image.fid import NoTrainInceptionV3
    except (ImportError, ModuleNotFoundError):
        return None
    try:
        return NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                  feature_extractor_weights_path=str(path))
    except ModuleNotFoundError:
        return None
