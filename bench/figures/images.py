"""Figures of suites whose samples are tuples of images with labels (a suite's sample_figure of kind
"image_tuples"): a gallery of real tuples, and per method its conditional and unconditional samples. The layout
names the image modalities (stacked top to bottom) and the labels printed under each tuple, with the short
name of each class where the suite gives one."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

Panels = list[tuple[str, dict[str, np.ndarray]]]


def mosaic(samples: dict[str, np.ndarray], prefix: str, images: list[str]) -> np.ndarray:
    """(M·H, k·W, 3): the tuples side by side, each one's images stacked top to bottom."""
    columns = [np.concatenate([samples[f"{prefix}/{m}"][i].transpose(1, 2, 0) for m in images], axis=0)
               for i in range(len(samples[f"{prefix}/{images[0]}"]))]
    return np.concatenate(columns, axis=1)


def label_text(samples: dict[str, np.ndarray], prefix: str, i: int, labels: dict[str, Any]) -> str:
    parts = []
    for label, names in labels.items():
        if f"{prefix}/{label}" in samples:
            value = int(samples[f"{prefix}/{label}"][i])
            parts.append(names[value] if names else str(value))
    return " ".join(parts)


def show(ax, samples: dict[str, np.ndarray], prefix: str, title: str, layout: dict[str, Any]) -> None:
    images = list(layout["images"])
    image = mosaic(samples, prefix, images)
    k, side = len(samples[f"{prefix}/{images[0]}"]), image.shape[0] // len(images)
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks(np.arange(k) * side + side / 2,
                  [label_text(samples, prefix, i, layout["labels"]) for i in range(k)], fontsize=7)
    ax.set_yticks(np.arange(len(images)) * side + side / 2, images, fontsize=7)
    ax.tick_params(length=0)
    ax.set_title(title, fontsize=8)


def gallery(panels: Panels, layout: dict[str, Any], path: Path) -> Path | None:
    """Real test tuples: each column one tuple, rows the image modalities."""
    if not panels:
        return None
    fig, ax = plt.subplots(figsize=(8, 3))
    show(ax, panels[0][1], "real", f"{layout['title']}: real test tuples ({', '.join(layout['labels'])})", layout)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def sample_grid(panels: Panels, layout: dict[str, Any], path: Path) -> Path | None:
    """Per method (label, samples): images conditioned on labels, and unconditional joint samples with their
    generated labels."""
    first = layout["images"][0]
    found = [(label, s) for label, s in panels if f"joint/{first}" in s]
    if not found:
        return None
    fig, axes = plt.subplots(len(found), 2, figsize=(13, 1.9 * len(found) + 0.4), squeeze=False)
    for (label, samples), (left, right) in zip(found, axes):
        if f"conditional/{first}" in samples:
            given = "+".join(k for k in layout["labels"] if f"conditional/{k}" in samples)
            show(left, samples, "conditional", f"{label}: {given} → images", layout)
        else:
            left.axis("off")
        show(right, samples, "joint", f"{label}: unconditional (generated {', '.join(layout['labels'])})", layout)
    fig.suptitle("Conditional and unconditional samples (first seed; labels under each column)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
