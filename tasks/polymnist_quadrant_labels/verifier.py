"""The frozen verifier of paper §6.2: a small CNN with a digit head and a quadrant head, trained on real
training images only, cached on disk by dataset hash, and gated on its held-out accuracy."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from metrics.verifier import label_accuracy
from tasks.polymnist_quadrant_labels.data import IMAGES, LABELS, to_float

FEATURES = 128  # width of the feature layer (the Fréchet distance is computed on it)
LR, BATCH = 2e-3, 128
VERSION = 2  # bump when the architecture or training changes, so cached verifiers are not reused


class VerifierTooWeak(RuntimeError):
    """The verifier's held-out accuracy is below the gate, so verifier-scored results would not mean much."""


class VerifierFeatures(nn.Module):
    """Pairs of 3×3 convolutions with max-pooling down to a 4×4 map, then two summaries: its maximum over
    positions (what the digit is, wherever it sits) and its mean per quadrant (where it is)."""

    def __init__(self, canvas: int, width: int = 32):
        super().__init__()

        def pair(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU()]

        layers, channels, size = pair(3, width), width, canvas
        while size > 4:
            layers += [nn.MaxPool2d(2), *pair(channels, 2 * width)]
            channels, size = 2 * width, size // 2
        self.conv = nn.Sequential(*layers)
        self.mix = nn.Sequential(nn.Dropout(0.2), nn.Linear(5 * channels, FEATURES), nn.ReLU())
        self.num_features = FEATURES  # read by torchmetrics' FrechetInceptionDistance

    def forward(self, images: Tensor) -> Tensor:
        h = self.conv(to_float(images) if images.dtype == torch.uint8 else images)
        quadrants = nn.functional.adaptive_avg_pool2d(h, 2).flatten(1)
        return self.mix(torch.cat([h.amax((2, 3)), quadrants], dim=1))


class Verifier(nn.Module):
    def __init__(self, canvas: int):
        super().__init__()
        self.features = VerifierFeatures(canvas)
        self.heads = nn.ModuleDict({name: nn.Linear(FEATURES, k) for name, k in LABELS.items()})

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        h = self.features(images)
        return {name: head(h) for name, head in self.heads.items()}

    @torch.no_grad()
    def predict(self, images: Tensor, batch_size: int = 1000) -> dict[str, Tensor]:
        """Predicted digit and quadrant per image (uint8, or float in [-1, 1])."""
        parts = [self(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
        return {name: torch.cat([p[name] for p in parts]).argmax(1) for name in LABELS}


def real_images(arrays: dict[str, np.ndarray], split: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Every image of a split (the three modalities stacked) and its labels."""
    images = np.concatenate([arrays[f"{m}/{split}"] for m in IMAGES])
    labels = {name: np.tile(arrays[f"{name}/{split}"], len(IMAGES)) for name in LABELS}
    return images, labels


def train_verifier(arrays: dict[str, np.ndarray], canvas: int, steps: int, seed: int) -> Verifier:
    """Adam with a cosine schedule on real training images of all three modalities, both heads with
    cross-entropy; on the GPU when there is one. Returns the frozen verifier on the CPU."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    images, labels = real_images(arrays, "train")
    images = torch.from_numpy(images).to(device)
    targets = {name: torch.from_numpy(y).to(device) for name, y in labels.items()}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        verifier = Verifier(canvas).to(device)
        optimizer = torch.optim.Adam(verifier.parameters(), lr=LR)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
        for _ in range(steps):
            rows = torch.randint(0, len(images), (BATCH,)).to(device)
            logits = verifier(images[rows])
            loss = sum(nn.functional.cross_entropy(logits[name], targets[name][rows]) for name in LABELS)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return verifier.cpu().eval().requires_grad_(False)


def held_out_accuracy(verifier: Verifier, arrays: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """{"digit": {"m1": acc, ...}, "quadrant": {...}} on the real test images."""
    out: dict[str, dict[str, float]] = {name: {} for name in LABELS}
    for m in IMAGES:
        predicted = verifier.predict(torch.from_numpy(arrays[f"{m}/test"]))
        for name, k in LABELS.items():
            out[name][m] = label_accuracy(predicted[name], torch.from_numpy(arrays[f"{name}/test"]), k)
    return out


def load_verifier(arrays: dict[str, np.ndarray], data_hash: str, canvas: int, steps: int, seed: int,
                  cache_dir: Path) -> tuple[Verifier, dict[str, dict[str, float]]]:
    """The trained verifier and its held-out accuracy, cached by dataset content hash and training settings."""
    key = hashlib.sha256(f"{data_hash}-{canvas}-{steps}-{seed}-v{VERSION}".encode()).hexdigest()[:16]
    path = cache_dir / "polymnist_quadrant_labels" / f"verifier-{key}.pt"
    verifier = Verifier(canvas)
    if path.exists():
        state = torch.load(path, map_location="cpu", weights_only=True)
        verifier.load_state_dict(state["weights"])
        return verifier.eval().requires_grad_(False), state["accuracy"]
    verifier = train_verifier(arrays, canvas, steps, seed)
    accuracy = held_out_accuracy(verifier, arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp")  # per process: parallel cells may race here
    torch.save({"weights": verifier.state_dict(), "accuracy": accuracy}, tmp)
    tmp.replace(path)
    return verifier, accuracy


def check_gate(accuracy: dict[str, dict[str, float]], minimum: float) -> None:
    """Raise VerifierTooWeak when either head's mean held-out accuracy is below `minimum`."""
    for name, per_image in accuracy.items():
        mean = float(np.mean(list(per_image.values())))
        if mean < minimum:
            raise VerifierTooWeak(f"the verifier's {name} accuracy on real test images is {mean:.4f}, below "
                                  f"data.verifier_min_accuracy={minimum}; raise data.verifier_steps or check the data")
