"""Figures for `bench report` and for each cell's MLflow run (matplotlib, PNG): the samples a suite declares as data,
drawn the way its sample_figure says ("shared_coordinates": a pair plot of real vs jointly generated vectors on shared
coordinates; "image_tuples": see bench/figures/images.py)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bench.core.records import read_samples  # noqa: E402
from bench.figures import images as figures_images  # noqa: E402

if TYPE_CHECKING:
    from base.results import Evaluation, Row
    from tasks.base import Suite


def suite_figures(suite_cls: type[Suite], rows: list[Row], out: Path) -> list[Path]:
    """The figures `suite_cls` declares, drawn from the report's rows."""
    name, layout = suite_cls.name, suite_cls.sample_figure
    paths = []
    found = first_samples(rows) if layout.get("kind") in ("shared_coordinates", "image_tuples") else []
    if layout.get("kind") == "shared_coordinates":
        paths.append(pair_plot(found, suite_cls.figure_coordinates, out / f"{name}_pairs.png"))
    elif layout.get("kind") == "image_tuples":
        panels = [(row.label, samples) for row, samples in found]
        paths += [figures_images.gallery(panels, layout, out / f"{name}_gallery.png"),
                  figures_images.sample_grid(panels, layout, out / f"{name}_samples.png")]
    return [p for p in paths if p is not None]


def cell_figure(suite: Suite, method: str, evaluation: Evaluation, path: Path) -> Path | None:
    """A figure of one cell's samples for its MLflow run, or None when the suite declares none."""
    layout = suite.sample_figure
    if not evaluation.samples:
        return None
    if layout.get("kind") == "shared_coordinates":
        coords = suite.figure_coordinates(dataclasses.asdict(suite.data_config))
        return shared_coordinate_grid([(method, evaluation.samples)], coords, path)
    if layout.get("kind") == "image_tuples":
        return figures_images.sample_grid([(method, evaluation.samples)], layout, path)
    return None


def first_samples(rows: list[Row]) -> list[tuple[Row, dict[str, np.ndarray]]]:
    """(row, samples of its first seed) for every plain row whose record kept samples."""
    out = []
    for row in rows:
        record = row.records[0] if row.records and not row.overrides else None
        if record and record.samples:
            samples = read_samples(Path(record.path).parent / record.samples)
            if samples is not None:
                out.append((row, samples))
    return out


def pair_plot(found: list[tuple[Row, dict[str, np.ndarray]]], coordinates, path: Path) -> Path | None:
    """Rows: real data, then each method's joint samples (first seed; `found` from first_samples); columns: pairs of
    modalities. A coherent model puts the shared coordinate of both modalities on the diagonal.
    `coordinates(data_config)` names the coordinate pairs to draw."""
    if not found:
        return None
    return shared_coordinate_grid([(row.label, samples) for row, samples in found],
                                  coordinates(found[0][0].records[0].config["data"]), path)


def shared_coordinate_grid(panels: list[tuple[str, dict]], coords: dict, path: Path) -> Path:
    """One row of scatter plots per panel (label, samples), below the real test data of the first panel."""
    grid = [("real test data", panels[0][1], "real")] + [(label, s, "joint") for label, s in panels]
    fig, axes = plt.subplots(len(grid), len(coords), figsize=(2.4 * len(coords), 2.2 * len(grid)), squeeze=False)
    for r, (label, samples, kind) in enumerate(grid):
        for c, (pair, (a, ia, b, ib)) in enumerate(coords.items()):
            ax = axes[r][c]
            xa, xb = samples[f"{kind}/{a}"][:, ia].astype(float), samples[f"{kind}/{b}"][:, ib].astype(float)
            ax.scatter(xa, xb, s=3, alpha=0.5, color="tab:green" if kind == "real" else "tab:blue")
            ax.plot([-3, 3], [-3, 3], color="0.6", lw=0.8)
            ax.set_xlim(-3.5, 3.5)
            ax.set_ylim(-3.5, 3.5)
            ax.tick_params(labelsize=6)
            if r == 0:
                ax.set_title(f"{pair}: {a}[{ia}] vs {b}[{ib}]", fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle("Shared coordinate of two modalities, jointly generated (diagonal = coherent)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
