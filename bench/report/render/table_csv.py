"""A report's numbers as one wide CSV, rendered from the results model: per row (the table's methods, the variants,
the reference rows) and column the mean over seeds, the spread over seeds (SD), the standard error and 95%
interval of the mean (seeds and test tuples; t quantiles, tasks/verdicts.py), whether the method can do the task,
its rank and the paper's value."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd

from bench.report.model import Line, Table
from bench.report.tuning import TuningModel

CSV_FIELDS = ["suite", "profile", "method", "metric", "label", "ideal", "quantity", "k", "trials", "failed",
              "expected_best", "median_best", "band_best", "band_worst", "confidence"]


def wide_frame(table: Table, variants: list[Line]) -> pd.DataFrame:
    lines = table.methods + variants + [line for line in table.lines if line.kind == "reference"]
    out = []
    for line in lines:
        method = line.method if line.kind == "method" else line.label
        entry: dict[str, Any] = {"method": method, "variant": line.variant, "config_hash": line.config_hash,
                                 "seeds": line.seeds if line.kind == "method" else "",
                                 "failed": line.failed if line.kind == "method" else "",
                                 "converged": line.settled}
        for spec in table.specs:
            value = line.values[spec.key]
            found = value.estimate
            interval = found.interval if found is not None else None
            entry[f"{spec.key} mean"] = found.mean if found else None
            entry[f"{spec.key} sd"] = found.sd if found else None
            entry[f"{spec.key} se"] = found.se if found is not None else None
            entry[f"{spec.key} ci95 low"] = interval.low if interval is not None else None
            entry[f"{spec.key} ci95 high"] = interval.high if interval is not None else None
            entry[f"{spec.key} supported"] = value.supported
            entry[f"{spec.key} rank"] = value.rank
            entry[f"{spec.key} paper"] = value.paper
        out.append(entry)
    return pd.DataFrame(out)


def write_tuning_csv(model: TuningModel, path: Path) -> Path:
    """The curves as a tidy CSV: one row per method, metric and k (infinite values written as inf / -inf)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for method in model.methods:
            for curve in method.curves.values():
                for i, k in enumerate(curve.ks):
                    writer.writerow({
                        "suite": model.suite, "profile": model.profile, "method": method.method,
                        "metric": curve.metric.key, "label": curve.metric.label, "ideal": curve.metric.ideal,
                        "quantity": curve.quantity, "k": k, "trials": curve.trials, "failed": curve.failed,
                        "expected_best": curve.expected[i], "median_best": curve.median[i],
                        "band_best": curve.band_best[i], "band_worst": curve.band_worst[i],
                        "confidence": model.confidence})
    return path
