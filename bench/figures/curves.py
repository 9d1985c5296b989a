"""Figures of curves for `bench report` (matplotlib, PNG): tuning curves (the best validation value after k trials
of a method's tuning) and learning curves (the distance to the ideal on validation tuples against training steps).
They draw the numbers they are given and compute none: the report's models (bench/report/tuning.py, learning.py)
hand them over as panels of lines."""
from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLUMNS = 4  # panels per row of a figure


@dataclass(frozen=True)
class TuningLine:
    """One method in a tuning-curve panel; every list is indexed like `trials`. Non-finite values are not drawn
    (a band edge that is infinite runs to the panel's edge)."""

    label: str
    trials: list[int]  # k = 1..N
    expected: list[float]  # the solid line
    median: list[float]  # the dashed line
    band_best: list[float]  # the shaded band's edges
    band_worst: list[float]


@dataclass(frozen=True)
class LearningLine:
    """One method (row) in a learning-curve panel; every list is indexed like `steps`."""

    label: str
    steps: list[float]
    distance: list[float]  # the line
    low: list[float]  # the shaded band's edges (not drawn where not finite)
    high: list[float]
    marker_step: float | None = None  # a marker on the line at this step (3/4 of training)


@dataclass(frozen=True)
class Panel:
    title: str
    ylabel: str
    lines: Sequence[TuningLine | LearningLine]


def tuning_figure(panels: list[Panel], path: Path, title: str) -> Path | None:
    """One panel per metric, one line per method against the number of trials (log y when every value is positive:
    methods an order of magnitude apart stay readable); None when nothing to draw."""
    return draw(panels, path, title, "trials", draw_tuning_line, log=True)


def learning_figure(panels: list[Panel], path: Path, title: str) -> Path | None:
    """One panel per metric, one line per method against training steps (log y when every value is positive);
    None when nothing to draw."""
    return draw(panels, path, title, "training step", draw_learning_line, log=True)


Band = tuple[Sequence[float], Sequence[float], Sequence[float], str]  # x, one edge, the other, colour


def draw(panels: list[Panel], path: Path, title: str, xlabel: str, draw_line: Callable[..., Band],
         log: bool) -> Path | None:
    """`log`: a panel whose lines are all positive gets a log y-scale."""
    panels = [p for p in panels if p.lines]
    if not panels:
        return None
    colors = palette(panels)
    columns = min(COLUMNS, len(panels))
    rows = math.ceil(len(panels) / columns)
    legend_rows = math.ceil(len(colors) / columns)
    height = 2.6 * rows + 0.4 + 0.15 * legend_rows
    fig, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, height), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        if log and positive(panel):
            ax.set_yscale("log", nonpositive="clip")
        bands = [draw_line(ax, line, colors[line.label]) for line in panel.lines]
        shade(ax, bands)
        ax.set_title(panel.title, fontsize=8)
        ax.set_xlabel(xlabel, fontsize=7)
        ax.set_ylabel(panel.ylabel, fontsize=7)
        ax.tick_params(which="both", labelsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles = {h.get_label(): h for ax in axes.flat for h in ax.get_legend_handles_labels()[0]}
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=columns, fontsize=6, frameon=False)
    fig.suptitle("\n".join(textwrap.wrap(title, 60 * columns)), fontsize=8)
    fig.tight_layout(rect=(0, 0.15 * legend_rows / height + 0.02, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def palette(panels: list[Panel]) -> dict[str, str]:
    """One colour per line label, the same in every panel."""
    labels = list(dict.fromkeys(line.label for panel in panels for line in panel.lines))
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {label: cycle[i % len(cycle)] for i, label in enumerate(labels)}


def positive(panel: Panel) -> bool:
    """Whether every value a panel's lines draw is positive."""
    drawn = [getattr(line, name) for line in panel.lines for name in ("distance", "expected", "median")
             if hasattr(line, name)]
    values = [v for series in drawn for v in finite(series) if not math.isnan(v)]
    return bool(values) and min(values) > 0


def finite(values: Sequence[float | None]) -> list[float]:
    """Values as matplotlib draws them: anything not finite becomes a gap."""
    return [v if v is not None and math.isfinite(v) else math.nan for v in values]


def draw_tuning_line(ax, line: TuningLine, color: str) -> Band:
    ax.plot(line.trials, finite(line.expected), color=color, lw=1.2, marker=".", ms=3, label=line.label)
    ax.plot(line.trials, finite(line.median), color=color, lw=0.8, ls="--")
    ax.xaxis.get_major_locator().set_params(integer=True)
    return line.trials, line.band_best, line.band_worst, color


def draw_learning_line(ax, line: LearningLine, color: str) -> Band:
    y = finite(line.distance)
    ax.plot(line.steps, y, color=color, lw=1.2, label=line.label)
    if line.marker_step is not None and line.marker_step in line.steps:
        ax.plot([line.marker_step], [y[line.steps.index(line.marker_step)]], color=color, marker="o", ms=4)
    return line.steps, line.low, line.high, color


def shade(ax, bands: list[Band]) -> None:
    """Shade each band once the lines have set the panel's limits; an edge beyond them (infinite, or not positive
    on a log scale) runs to the panel's edge."""
    ax.autoscale_view()
    bottom, top = ax.get_ylim()
    log = ax.get_yscale() == "log"
    for x, low, high, color in bands:
        edges = [[edge(v, bottom, top, log) for v in side] for side in (low, high)]
        ax.fill_between(x, edges[0], edges[1], color=color, alpha=0.15 if len(bands) < 4 else 0.06, lw=0)
    ax.set_ylim(bottom, top)


def edge(value: float | None, bottom: float, top: float, log: bool) -> float:
    if value is None or math.isnan(value):
        return math.nan
    if value == math.inf:
        return top
    if value == -math.inf or (log and value <= 0):
        return bottom
    return value
