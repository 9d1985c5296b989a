"""Audio encoders of the media metrics, re-implemented in torch/numpy/scipy so that their public checkpoints load with
strict key matching from a local file (nothing is ever downloaded; a missing file raises MissingWeights naming the
path):

- VGGish (Hershey et al., "CNN Architectures for Large-Scale Audio Classification", ICASSP 2017), the network behind
  FAD. Architecture and front end from tensorflow/models research/audioset/vggish (vggish_slim.py, vggish_params.py,
  mel_features.py, vggish_input.py); module and key names from its PyTorch port harritaylor/torchvggish
  (torchvggish/vggish.py), whose checkpoint is vggish-10086976.pth and PCA file vggish_pca_params-970ea276.pth.
- Wav2CLIP (Wu et al., "Wav2CLIP: Learning Robust Audio Representations from CLIP", ICASSP 2022), audio embeddings in
  the CLIP ViT-B/32 space. Architecture and front end from descriptinc/lyrebird-wav2clip (wav2clip/model/resnet.py,
  wav2clip/model/encoder.py, wav2clip/__init__.py), whose released checkpoint is Wav2CLIP.pt.

Both map waveforms (N, T) at `rate` Hz to clip embeddings (N, D), so either serves as a Fréchet feature extractor."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from metrics.media.judges import MissingWeights, resample

VGGISH_RATE = 16_000
VGGISH_WINDOW = 400  # 25 ms at 16 kHz
VGGISH_HOP = 160  # 10 ms
VGGISH_FFT = 512  # the power of two above the window
VGGISH_BANDS = 64
VGGISH_FMIN, VGGISH_FMAX = 125.0, 7500.0
VGGISH_LOG_OFFSET = 0.01
VGGISH_FRAMES = 96  # one example: 0.96 s of 10 ms frames, examples do not overlap
VGGISH_SAMPLES = VGGISH_WINDOW + (VGGISH_FRAMES - 1) * VGGISH_HOP  # the shortest clip that makes one example
QUANTIZE_RANGE = (-2.0, 2.0)
EXAMPLES_PER_PASS = 256

WAV2CLIP_RATE = 16_000  # its VGGSound pre-training audio was loaded at 16 kHz
WAV2CLIP_FFT = 512
WAV2CLIP_HOP = 353


def weights_file(path: str | Path | None, what: str) -> Path:
    if not path:
        raise MissingWeights(f"{what}: no local path given")
    file = Path(path).expanduser()
    if not file.is_file():
        raise MissingWeights(f"{what}: no weights file at {file} (this harness never downloads weights)")
    return file


def load_checkpoint(file: Path) -> dict[str, Any]:
    """A torch checkpoint of tensors, or of numpy arrays (torchvggish's PCA file was pickled from numpy, under
    numpy 1's module names), without allowing any other pickled code."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1
        from numpy.core.multiarray import _reconstruct
    allowed: list[Any] = [(_reconstruct, f"numpy.{core}.multiarray._reconstruct") for core in ("core", "_core")]
    allowed += [np.ndarray, np.dtype]
    allowed += [getattr(np.dtypes, t) for t in ("Float32DType", "Float64DType") if hasattr(np, "dtypes")]
    with torch.serialization.safe_globals(allowed):
        return torch.load(file, map_location="cpu", weights_only=True)


# ----------------------------------------------------------------------------------------------------------- VGGish


def hertz_to_mel(hertz: np.ndarray | float) -> np.ndarray:
    """The HTK mel scale VGGish uses: 1127 ln(1 + f / 700)."""
    return 1127.0 * np.log1p(np.asarray(hertz, dtype=np.float64) / 700.0)


def vggish_mel_matrix(rate: int = VGGISH_RATE, fft: int = VGGISH_FFT, bands: int = VGGISH_BANDS,
                      low: float = VGGISH_FMIN, high: float = VGGISH_FMAX) -> np.ndarray:
    """(fft // 2 + 1, bands) triangular weights of VGGish's mel_features.spectrogram_to_mel_matrix: FFT bins spread
    evenly over [0, Nyquist], band edges evenly spaced in mel between `low` and `high`, triangles linear in mel with
    peak 1 (no area normalisation), and the DC bin given no weight."""
    bins = hertz_to_mel(np.linspace(0.0, rate / 2, fft // 2 + 1))[:, None]
    edges = np.linspace(hertz_to_mel(low), hertz_to_mel(high), bands + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins - lower) / (center - lower)
    falling = (upper - bins) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0] = 0.0
    return weights


def vggish_log_mel(wave: np.ndarray, mel: np.ndarray | None = None) -> np.ndarray:
    """(frames, 64) log mel magnitudes of a 16 kHz clip: 25 ms periodic-Hann frames every 10 ms (no padding, the
    incomplete last frame dropped), |rfft| over 512 points, mel weights, log(x + 0.01)."""
    wave = np.asarray(wave, dtype=np.float64)
    count = 1 + (len(wave) - VGGISH_WINDOW) // VGGISH_HOP
    starts = np.arange(count)[:, None] * VGGISH_HOP
    frames = wave[starts + np.arange(VGGISH_WINDOW)]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(VGGISH_WINDOW) / VGGISH_WINDOW)  # periodic, not np.hanning
    magnitude = np.abs(np.fft.rfft(frames * window, VGGISH_FFT))
    return np.log(magnitude @ (vggish_mel_matrix() if mel is None else mel) + VGGISH_LOG_OFFSET)


def vggish_examples(wave: np.ndarray, rate: int = VGGISH_RATE, mel: np.ndarray | None = None) -> np.ndarray:
    """(examples, 96, 64) VGGish input patches of one mono clip at `rate` Hz: resampled to 16 kHz (polyphase), log mel
    frames cut into non-overlapping 0.96 s examples, a trailing partial example dropped. A clip shorter than one
    example (0.975 s) is zero-padded to one, where the reference front end would return none."""
    wave = resample(np.asarray(wave, dtype=np.float64), rate, VGGISH_RATE).astype(np.float64)
    if len(wave) < VGGISH_SAMPLES:
        wave = np.pad(wave, (0, VGGISH_SAMPLES - len(wave)))
    frames = vggish_log_mel(wave, mel)
    count = len(frames) // VGGISH_FRAMES
    return frames[:count * VGGISH_FRAMES].reshape(count, VGGISH_FRAMES, VGGISH_BANDS)


def vgg_stack() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 1
    for width in (64, "pool", 128, "pool", 256, 256, "pool", 512, 512, "pool"):
        if width == "pool":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = width
    return nn.Sequential(*layers)


class Postprocessor(nn.Module):
    """VGGish's PCA postprocessing (the AudioSet release format): centre, rotate and whiten with the released PCA,
    clip to [-2, 2] and quantise to 0..255."""

    def __init__(self, eigen_vectors: Tensor, means: Tensor):
        super().__init__()
        self.register_buffer("pca_eigen_vectors", torch.as_tensor(eigen_vectors, dtype=torch.float32))
        self.register_buffer("pca_means", torch.as_tensor(means, dtype=torch.float32).reshape(-1, 1))

    def forward(self, embeddings: Tensor) -> Tensor:
        low, high = QUANTIZE_RANGE
        rotated = (self.pca_eigen_vectors @ (embeddings.t() - self.pca_means)).t()
        return torch.round((rotated.clamp(low, high) - low) * (255.0 / (high - low)))


class VGGish(nn.Module):
    """VGGish: VGG-like CNN (conv 64-128-256x2-512x2 with 2x2 max-pools) over 96x64 log-mel patches, then an MLP
    12288-4096-4096-128. The final ReLU of torchvggish's `embeddings` is dropped by default, as frechet-audio-distance
    does and as the current TensorFlow VGGish (fc2 without activation) defines it; `activation=True` keeps it.
    Optional PCA postprocessing (torchvggish's vggish_pca_params file), off by default as in frechet-audio-distance.

    Each clip is cut into 0.96 s examples (see vggish_examples); its embedding is the mean of its examples'
    embeddings (frechet-audio-distance instead pools the examples of all clips; `example_embeddings` gives them)."""

    def __init__(self, rate: int = VGGISH_RATE, activation: bool = False, path: str | Path | None = None):
        super().__init__()
        self.features = vgg_stack()
        head: list[nn.Module] = [nn.Linear(512 * 4 * 6, 4096), nn.ReLU(inplace=True), nn.Linear(4096, 4096),
                                 nn.ReLU(inplace=True), nn.Linear(4096, 128)]
        self.embeddings = nn.Sequential(*head, *([nn.ReLU(inplace=True)] if activation else []))
        self.pproc: Postprocessor | None = None
        self.rate = rate
        self.activation = activation
        self.path = Path(path) if path else None
        self.num_features = 128
        self.mel = vggish_mel_matrix()

    @classmethod
    def load(cls, path: str | Path | None, rate: int = VGGISH_RATE, pca: str | Path | None = None,
             activation: bool = False) -> VGGish:
        """torchvggish's checkpoint (vggish-10086976.pth) from a local file, with its PCA file if `pca` is given."""
        file = weights_file(path, "VGGish")
        pca_file = weights_file(pca, "VGGish PCA") if pca else None
        with torch.device("meta"):  # no random init of 72M parameters that the checkpoint replaces at once
            model = cls(rate, activation, file)
        model.load_state_dict(load_checkpoint(file), strict=True, assign=True)
        if pca_file is not None:
            params = load_checkpoint(pca_file)
            model.pproc = Postprocessor(params["pca_eigen_vectors"], params["pca_means"])
        return model.eval()

    @property
    def name(self) -> str:
        stem = self.path.stem if self.path else "vggish"
        return stem + ("+relu" if self.activation else "") + ("+pca" if self.pproc is not None else "")

    @property
    def device(self) -> torch.device:
        return self.features[0].weight.device

    def embed(self, examples: Tensor) -> Tensor:
        """(E, 96, 64) log-mel examples -> (E, 128) embeddings."""
        x = self.features(examples[:, None])
        x = self.embeddings(x.permute(0, 2, 3, 1).flatten(1))  # channels last, the order the TF weights flatten in
        return self.pproc(x) if self.pproc is not None else x

    @torch.no_grad()
    def example_embeddings(self, waveforms: Tensor) -> list[Tensor]:
        """One (examples, 128) tensor per clip."""
        examples = [vggish_examples(w.double().cpu().numpy(), self.rate, self.mel) for w in waveforms]
        stacked = torch.from_numpy(np.concatenate(examples)).float()
        out = torch.cat([self.embed(stacked[i:i + EXAMPLES_PER_PASS].to(self.device)).float()
                         for i in range(0, len(stacked), EXAMPLES_PER_PASS)])
        return list(out.split([len(e) for e in examples]))

    def forward(self, waveforms: Tensor) -> Tensor:
        return torch.stack([e.mean(0) for e in self.example_embeddings(waveforms)])


# ---------------------------------------------------------------------------------------------------------- Wav2CLIP


class Spectrogram(nn.Module):
    """Power spectrogram as torchaudio's Spectrogram(n_fft=512, hop_length=353) computes it: periodic Hann window of
    512 (a persistent buffer, so it is in the checkpoint), centred frames with reflect padding, |STFT|^2."""

    def __init__(self, fft: int = WAV2CLIP_FFT, hop: int = WAV2CLIP_HOP):
        super().__init__()
        self.fft, self.hop = fft, hop
        self.register_buffer("window", torch.hann_window(fft, device="cpu"))  # on meta, the first call takes seconds

    def forward(self, waves: Tensor) -> Tensor:
        shape = waves.shape
        spec = torch.stft(waves.reshape(-1, shape[-1]), self.fft, self.hop, self.fft, self.window, center=True,
                          pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
        return spec.abs().pow(2.0).reshape(*shape[:-1], *spec.shape[-2:])


class BasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


def stage(inplanes: int, planes: int, stride: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes))


class AudioResNet(nn.Module):
    """Wav2CLIP's audio encoder: the spectrogram front end, log(x + 1e-7), standardisation, then ResNet-18 on one
    input channel (7x7/2 stem, 3x3/2 max-pool, [2, 2, 2, 2] basic blocks, global average pool) -> 512."""

    def __init__(self):
        super().__init__()
        self.spectrogram = Spectrogram()
        self.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = stage(64, 64, 1)
        self.layer2 = stage(64, 128, 2)
        self.layer3 = stage(128, 256, 2)
        self.layer4 = stage(256, 512, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))

    def forward(self, waves: Tensor) -> Tensor:
        x = torch.log(self.spectrogram(waves[:, None]) + 1e-7)
        # per clip; the reference standardises over the whole batch, so a clip's embedding depended on its batch
        x = (x - x.mean(dim=(1, 2, 3), keepdim=True)) / (x.std(dim=(1, 2, 3), keepdim=True) + 1e-9)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)


class Projection(nn.Module):
    """Wav2CLIP's audio transform (MLPLayers with units [512, 512, 512]): Linear, ReLU, Dropout(0.1), Linear."""

    def __init__(self, width: int = 512, dropout: float = 0.1):
        super().__init__()
        self.sequential = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout),
                                        nn.Linear(width, width))

    def forward(self, x: Tensor) -> Tensor:
        return self.sequential(x)


class Wav2Clip(nn.Module):
    """Wav2CLIP clip-level embeddings (512-d, in CLIP ViT-B/32's space): 16 kHz audio through the ResNet-18 audio
    encoder, averaged over the whole spectrogram (time and frequency), then the audio transform MLP, unnormalised, as
    the package's `embed_audio` with `get_model()` (utterance mode, transform=True) returns them. One difference:
    the log spectrogram is standardised per clip, not over the batch (so a clip's embedding equals the reference's
    for that clip embedded alone)."""

    PREFIXES = ("audio_encoder.", "audio_transform.")

    def __init__(self, rate: int = WAV2CLIP_RATE, path: str | Path | None = None):
        super().__init__()
        self.audio_encoder = AudioResNet()
        self.audio_transform = Projection()
        self.rate = rate
        self.path = Path(path) if path else None
        self.num_features = 512

    @classmethod
    def load(cls, path: str | Path | None, rate: int = WAV2CLIP_RATE) -> Wav2Clip:
        """The released Wav2CLIP.pt from a local file. Like the package, only its audio_encoder.* and
        audio_transform.* entries are used (it also holds the image-side transform and loss scales), strictly."""
        file = weights_file(path, "Wav2CLIP")
        state = load_checkpoint(file)
        if isinstance(state.get("state_dict"), dict):  # a Lightning checkpoint (the package's first release)
            state = state["state_dict"]
        with torch.device("meta"):
            model = cls(rate, file)
        model.load_state_dict({k: v for k, v in state.items() if k.startswith(cls.PREFIXES)}, strict=True,
                              assign=True)
        return model.eval()

    @property
    def name(self) -> str:
        return self.path.stem if self.path else "wav2clip"

    @property
    def device(self) -> torch.device:
        return self.audio_encoder.conv1.weight.device

    @torch.no_grad()
    def forward(self, waveforms: Tensor) -> Tensor:
        waves = waveforms.float()
        if self.rate != WAV2CLIP_RATE:
            waves = torch.from_numpy(np.stack([resample(w.double().cpu().numpy(), self.rate, WAV2CLIP_RATE)
                                               for w in waveforms]))
        return self.audio_transform(self.audio_encoder(waves.to(self.device))).float()
