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


def local_dir(path: str | Path | None, what: str, marker: str = "config.json") -> Path:
    """The directory a model or pipeline was saved to by save_pretrained (it holds `marker`), or MissingWeights."""
    if not path:
        raise MissingWeights(f"{what}: no local path given")
    root = Path(path).expanduser()
    if not (root / marker).is_file():
        kind = "pipeline" if marker == "model_index.json" else "model"
        raise MissingWeights(f"{what}: no {kind} at {root} (expected a directory written by save_pretrained, with "
                             f"{marker}; this harness never downloads weights)")
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
    extractor for FAD on CLAP). `ClapJudge(directory)` reads a save_pretrained directory; `from_laion` reads a
    LAION-CLAP checkpoint file; `load` takes either."""

    def __init__(self, path: str | Path, rate: int = CLAP_RATE):
        super().__init__()
        from transformers import ClapModel, ClapProcessor

        root = local_dir(path, "CLAP")
        processor = ClapProcessor.from_pretrained(root)
        processor.feature_extractor.truncation = "rand_trunc"  # one channel: the non-fusion HTSAT
        self.attach(ClapModel.from_pretrained(root).eval(), processor, root, rate)

    def attach(self, model: nn.Module, processor: Any, root: Path, rate: int, max_tokens: int | None = None,
               quantize: bool = False) -> None:
        checked_tokenizer(processor.tokenizer, root)
        self.model, self.processor, self.root, self.rate, self.quantize = model, processor, root, rate, quantize
        self.max_tokens = max_tokens or text_length(processor.tokenizer,
                                                    model.config.text_config.max_position_embeddings - 2)
        self.num_features = model.config.projection_dim

    @classmethod
    def from_parts(cls, model: nn.Module, processor: Any, root: Path, rate: int = CLAP_RATE,
                   max_tokens: int | None = None, quantize: bool = False) -> ClapJudge:
        """A judge around an already built ClapModel and ClapProcessor (`root` names it)."""
        judge = cls.__new__(cls)
        nn.Module.__init__(judge)
        judge.attach(model.eval(), processor, Path(root), rate, max_tokens, quantize)
        return judge

    @classmethod
    def load(cls, path: str | Path | None, config: str | Path | None = None, rate: int = CLAP_RATE) -> ClapJudge:
        """The weights file's `clap` entry: a save_pretrained directory, or a LAION-CLAP checkpoint file (.pt) whose
        transformers config and tokenizer come from the `clap_config` entry, a directory (see `from_laion`)."""
        file = Path(path).expanduser() if path else None
        if file is not None and (file.is_file() or file.suffix in LAION_SUFFIXES):
            return cls.from_laion(file, config, rate)
        return cls(path, rate)

    @classmethod
    def from_laion(cls, checkpoint: str | Path, config_dir: str | Path | None, rate: int = CLAP_RATE) -> ClapJudge:
        """A LAION-CLAP checkpoint (the `laion_clap` package's .pt, e.g. 630k-audioset-best.pt: a `state_dict` of
        CLAP_Module's model, HTSAT audio branch without fusion, RoBERTa text branch), converted by
        `laion_clap_state_dict` and loaded with strict key matching. `config_dir` needs config.json (a ClapConfig
        whose audio config matches the HTSAT variant: HTSAT-base is patch_embeds_hidden_size=128,
        depths=[2, 2, 12, 2], hidden_size=1024; HTSAT-tiny is 96, [2, 2, 6, 2], 768; both heads [4, 8, 16, 32],
        window_size 8, spec_size 256, 64 mel bins, enable_fusion false; text config RoBERTa-base) and the RoBERTa
        tokenizer files (vocab.json and merges.txt, or tokenizer.json); a save_pretrained of the transformers
        `laion/clap-htsat-unfused` processor and config, without weights, is enough. Its preprocessor config is not
        read: the front end is LAION's own (`laion_front_end`). As in LAION, waveforms pass through int16, texts are
        cut at 77 tokens, and the text branch's layer norms use RoBERTa-base's epsilon."""
        from transformers import AutoTokenizer, ClapConfig, ClapModel, ClapProcessor

        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise MissingWeights(f"CLAP: no LAION-CLAP checkpoint file at {path}")
        root = Path(config_dir).expanduser() if config_dir else None
        if root is None or not (root / "config.json").is_file():
            raise MissingWeights(f"CLAP: the LAION-CLAP checkpoint {path} needs a config directory (`clap_config`) "
                                 f"with config.json and the RoBERTa tokenizer files; there is none at {root}")
        tokenizer = checked_tokenizer(AutoTokenizer.from_pretrained(root), root)
        config = ClapConfig.from_pretrained(root)
        config.text_config.layer_norm_eps = ROBERTA_LAYER_NORM_EPS
        model = ClapModel(config).eval()
        state = laion_clap_state_dict(read_laion_checkpoint(path))
        own = model.state_dict()
        state.update({k: own[k] for k in own if k.endswith(DERIVED_BUFFERS) and k not in state})
        missing, unexpected = sorted(own.keys() - state.keys()), sorted(state.keys() - own.keys())
        if missing or unexpected:
            raise ValueError(f"CLAP: the LAION-CLAP checkpoint {path} does not fit the ClapConfig of {root}: "
                             f"missing {missing}, unexpected {unexpected}")
        model.load_state_dict(state, strict=True)
        processor = ClapProcessor(feature_extractor=laion_front_end(), tokenizer=tokenizer)
        return cls.from_parts(model, processor, path, rate, max_tokens=LAION_TOKENS, quantize=True)

    @property
    def name(self) -> str:
        return self.root.name

    @torch.no_grad()
    def forward(self, waveforms: Tensor) -> Tensor:
        clips = [resample(w.double().cpu().numpy(), self.rate, CLAP_RATE) for w in waveforms]
        if self.quantize:
            clips = [int16_round_trip(c) for c in clips]
        features = self.processor.feature_extractor(clips, sampling_rate=CLAP_RATE, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in features.items()}
        return pooled(self.model.get_audio_features(**inputs)).float()

    @torch.no_grad()
    def texts(self, captions: list[str]) -> Tensor:
        tokens = self.processor.tokenizer(captions, return_tensors="pt", padding=True, truncation=True,
                                          max_length=self.max_tokens)
        return pooled(self.model.get_text_features(**{k: v.to(self.device) for k, v in tokens.items()})).float()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


# LAION-CLAP's fixed settings: the audio_cfg of its HTSAT model configs (laion_clap/clap_module/model_configs),
# its tokenizer call (max_length=77) and its text branch, RobertaModel.from_pretrained('roberta-base').
LAION_AUDIO = {"sampling_rate": CLAP_RATE, "max_length_s": 10, "fft_window_size": 1024, "hop_length": 480,
               "feature_size": 64, "frequency_min": 50, "frequency_max": 14_000}
LAION_TOKENS = 77
LAION_SUFFIXES = (".pt", ".pth", ".ckpt")
ROBERTA_LAYER_NORM_EPS = 1e-5
DERIVED_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
LAION_DROPPED = ("audio_branch.spectrogram_extractor.", "audio_branch.logmel_extractor.", "audio_branch.tscam_conv.",
                 "audio_branch.head.", "text_transform.", "audio_transform.")
LAION_AUDIO_RENAMES = (("attn.proj.", "attention.output.dense."), ("attn.", "attention.self."),
                       ("norm1.", "layernorm_before."), ("norm2.", "layernorm_after."),
                       ("mlp.fc1.", "intermediate.dense."), ("mlp.fc2.", "output.dense."), ("bn0.", "batch_norm."))
LAION_PROJECTION_LAYERS = {"0": "linear1", "2": "linear2"}  # nn.Sequential(Linear, ReLU, Linear)


def laion_front_end() -> Any:
    """LAION-CLAP's non-fusion mel front end as transformers' ClapFeatureExtractor: 48 kHz, 10 s, repeat-padding,
    random crop of longer clips, 1024-point Hann STFT with hop 480, 64 Slaney mel bands from 50 Hz to 14 kHz (the
    `rand_trunc` filters, librosa's as torchlibrosa's LogmelFilterBank uses), 10·log10 power without top_db."""
    from transformers import ClapFeatureExtractor

    return ClapFeatureExtractor(**LAION_AUDIO, truncation="rand_trunc", padding="repeatpad", top_db=None)


def int16_round_trip(wave: np.ndarray) -> np.ndarray:
    """LAION-CLAP's quantisation of every waveform before embedding (`get_audio_embedding_from_data`): clip to
    [-1, 1], scale by 32767, truncate to int16, scale back."""
    return (np.clip(wave, -1.0, 1.0) * 32767.0).astype(np.int16) / np.float32(32767.0)


def read_laion_checkpoint(path: Path) -> dict[str, Tensor]:
    """The model state dict of a LAION-CLAP checkpoint: its `state_dict` entry (or the file itself), without the
    `module.` prefix distributed training adds, as laion_clap's own `load_state_dict` reads it."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"CLAP: {path} is not a readable LAION-CLAP checkpoint ({error})") from error
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state:
        raise ValueError(f"CLAP: {path} holds no state dict")
    return {k.removeprefix("module."): v for k, v in state.items()}


def laion_clap_state_dict(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A LAION-CLAP state dict (non-fusion HTSAT audio branch, RoBERTa text branch) under transformers' ClapModel
    names. The rules are those of transformers' conversion script
    (transformers/models/clap/convert_clap_original_pytorch_to_hf.py, `rename_state_dict`): `audio_branch` becomes
    `audio_model.audio_encoder` and `text_branch` `text_model`; in the Swin blocks the fused `attn.qkv` is split in
    three equal row blocks (query, key, value), `attn.proj` becomes `attention.output.dense`, the rest of `attn`
    `attention.self`, `norm1`/`norm2` `layernorm_before`/`layernorm_after`, `mlp.fc1`/`mlp.fc2`
    `intermediate.dense`/`output.dense`, `bn0` `batch_norm`; the projection Sequentials' layers 0 and 2 become
    `linear1` and `linear2`. Unlike the script, which loads non-strictly, what ClapModel has no place for is dropped
    by name: the STFT and mel buffers (the feature extractor computes the log-mel), the AudioSet head (`tscam_conv`,
    `head`), the training-only `text_transform`/`audio_transform` MLPs, the shifted-window `attn_mask` buffers
    (ClapModel builds them on the fly) and the text `position_ids` buffer."""
    converted: dict[str, Tensor] = {}
    for key, value in state.items():
        if key.startswith(LAION_DROPPED) or key.endswith(("embeddings.position_ids", ".attn_mask")):
            continue
        if key.startswith("audio_branch."):
            key = "audio_model.audio_encoder." + key.removeprefix("audio_branch.")
            for old, new in LAION_AUDIO_RENAMES:
                key = key.replace(f".{old}", f".{new}")
            if ".attention.self.qkv." in key:
                for part, chunk in zip(("query", "key", "value"), value.chunk(3, dim=0)):
                    converted[key.replace(".qkv.", f".{part}.")] = chunk
                continue
        elif key.startswith("text_branch."):
            key = "text_model." + key.removeprefix("text_branch.")
        elif key.startswith(("audio_projection.", "text_projection.")):
            head, layer, rest = key.split(".", 2)
            key = f"{head}.{LAION_PROJECTION_LAYERS[layer]}.{rest}" if layer in LAION_PROJECTION_LAYERS else key
        converted[key] = value
    return converted


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
