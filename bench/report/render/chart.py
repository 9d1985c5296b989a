"""A report's table as a bar chart (matplotlib, PNG), rendered from the results model: per column, bars at the
mean with ± SE lines, a dot per seed, the paper's value as a red cross where it is the same metric."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bench.report.model import Table  # noqa: E402


def bar_chart(table: Table, path: Path, title: str) -> Path:
    lines = table.methods
    fig, axes = plt.subplots(1, len(table.specs), figsize=(3.2 * len(table.specs) + 1, 0.35 * len(lines) + 2.2),
                             squeeze=False)
    y = np.arange(len(lines))
    for ax, spec in zip(axes[0], table.specs):
        means, errors = [], []
        for i, line in enumerate(lines):
            value = line.values[spec.key]
            if value.estimate is None:
                means.append(np.nan)
                errors.append(0.0)
                ax.text(0, i, " —" if not value.supported else " n/a", va="center", fontsize=8, color="0.4")
                continue
            means.append(value.estimate.mean)
            errors.append(value.estimate.se or 0.0)
            seeds = list(value.estimate.values.values())
            ax.scatter(seeds, [i] * len(seeds), s=10, color="black", zorder=3)
            if table.paper and value.paper is not None:
                ax.scatter([value.paper], [i], marker="x", s=30, color="tab:red", zorder=4,
                           label="paper" if "paper" not in ax.get_legend_handles_labels()[1] else None)
        ax.barh(y, np.nan_to_num(means), xerr=errors, color="tab:blue", alpha=0.6, capsize=2)
        finite = [m for m in means if np.isfinite(m) and m > 0]
        if finite and max(finite) / min(finite) > 100:
            ax.set_xscale("log")
        ax.set_title(f"{spec.label} {spec.arrow}", fontsize=10)
        ax.set_yticks(y, [line.label for line in lines] if ax is axes[0][0] else [""] * len(lines), fontsize=8)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    handles, names = [], []
    for ax in axes[0]:
        h, n = ax.get_legend_handles_labels()
        handles, names = handles + h, names + n
    if handles:
        fig.legend(handles[:1], names[:1], loc="lower right", fontsize=8)
    fig.suptitle(f"{title}: bars = mean, lines = ± SE (seeds and test tuples), dots = seeds", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
