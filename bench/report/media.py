"""The media section of a report, for suites with a media stage (records with "media:<metric>/<cell>" keys): the
paper's table cells as media metrics beside the paper's numbers and the embedding-level values of the same cells;
the one-to-one media metrics per direction; how far the embedding-level scores predict the media ones, per task
(Spearman over the items of each record) and per cell (Spearman over the methods); and what was skipped, and why."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from base.results import MetricSpec, Row
from bench.report.tables import markdown_table

DASH = "—"


def media_values(row: Row, key: str) -> tuple[list[float], str | None]:
    """Per-seed values of one media metric, and the status when none is ok (skipped or unsupported)."""
    found = [r.metrics.get(key) for r in row.records]
    values = [m["value"] for m in found if m and m.get("status") == "ok" and m.get("value") is not None]
    statuses = {m.get("status") for m in found if m}
    return values, (None if values else next(iter(sorted(statuses - {"ok"})), None))


def value_text(values: list[float], status: str | None) -> str:
    if not values:
        return status or DASH
    mean = float(np.mean(values))
    return f"{mean:.2f} ± {float(np.std(values, ddof=1)):.2f}" if len(values) > 1 else f"{mean:.2f}"


def mean_of(row: Row, key: str) -> float | None:
    values = [r.metrics[key]["value"] for r in row.records
              if (r.metrics.get(key) or {}).get("value") is not None]
    return float(np.mean(values)) if values else None


def spearman(a: list[float], b: list[float]) -> float | None:
    from scipy.stats import spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def media_section(rows: list[Row], layout: list[tuple[MetricSpec, MetricSpec]], paper: dict) -> list[str]:
    plain = [row for row in rows if not row.overrides and row.records]
    keys = sorted({k for row in plain for r in row.records for k in r.metrics if k.startswith("media:")})
    if not keys:
        return []
    lines = ["## Media metrics (decoded media, scored by the paper's metrics)", "",
             "The methods' generated embeddings decoded into images, audio and captions and scored as the paper "
             "scores media (`--set media.weights=FILE`; tasks/image_text_audio/media.py): CLIPScore, CLAPScore and "
             "AIS in the paper's cells, beside the paper's numbers and the embedding-level judge win-rates of the same "
             "cells. 'skipped': a model or a test-file field was missing (listed below); 'unsupported': the method "
             "cannot do the task.", ""]
    header = ["Method"] + [f"{media_spec.label} {part}" for media_spec, _ in layout for part in
                           ("media", "paper", "embedding")]
    body = []
    for row in plain:
        cells = [row.method]
        for media_spec, spec in layout:
            values, status = media_values(row, media_spec.key)
            reference = paper.get(row.method, {}).get(spec.key)
            embedding = mean_of(row, spec.key)
            cells += [value_text(values, status), DASH if reference is None else f"{reference:.2f}",
                      DASH if embedding is None else f"{embedding:.2f}"]
        body.append(cells)
    lines += [markdown_table(header, body), ""]
    lines += one_to_one_table(plain, keys, paper) + agreement(plain, layout, keys) + skipped_reasons(plain, keys)
    return lines


def paper_text(paper: dict, method: str, key: str) -> str:
    value = paper.get(method, {}).get(key)
    return DASH if value is None else f"{value:.2f}"


def one_to_one_table(rows: list[Row], keys: list[str], paper: dict) -> list[str]:
    one = [k for k in keys if "/one_to_one/" in k]
    if not one:
        return []
    header = ["Method"] + [f"{k.removeprefix('media:').replace('/one_to_one/', ' ')} {part}" for k in one
                           for part in ("", "paper")]
    body = [[row.method] + [cell for k in one
                            for cell in (value_text(*media_values(row, k)), paper_text(paper, row.method, k))]
            for row in rows]
    details = {k: next((r.metrics[k] for row in rows for r in row.records
                        if (r.metrics.get(k) or {}).get("status") == "ok"), {}) for k in one}
    flagged = sorted({f"{d.get('metric')} on {d.get('encoder')} (n = {d.get('n')} < {d.get('reference_n')})"
                      for d in details.values() if d.get("comparable") is False})
    note = ["Fréchet distances below the paper's sample size are not comparable with its numbers (KID beside them "
            "in the records): " + "; ".join(flagged) + ".", ""] if flagged else []
    return ["### One-to-one (as in Tables 8 and 9)", "", markdown_table(header, body), ""] + note


def agreement(rows: list[Row], layout: list[tuple[MetricSpec, MetricSpec]], keys: list[str]) -> list[str]:
    """Does the embedding-level judge predict the media metric? Over the items of each record, and over methods."""
    per_task: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for row in rows:
        for k in keys:
            found = [(r.metrics.get(k) or {}).get("spearman_with_embedding_judge") for r in row.records]
            found = [v for v in found if v is not None]
            if found:
                per_task[k][row.method] = found
    lines: list[str] = []
    if per_task:
        methods = [row.method for row in rows]
        body = [[k.removeprefix("media:")] + [f"{np.mean(per_task[k][m]):+.2f}" if m in per_task[k] else DASH
                                              for m in methods] for k in per_task]
        lines += ["### Embedding-level judge against media metric, per item (Spearman ρ, mean over seeds)", "",
                  markdown_table(["cell", *methods], body), ""]
    across = []
    for media_spec, spec in layout:
        pairs = [(mean_of(row, media_spec.key), mean_of(row, spec.key)) for row in rows]
        pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
        rho = spearman([a for a, _ in pairs], [b for _, b in pairs])
        across.append([media_spec.label, str(len(pairs)), DASH if rho is None else f"{rho:+.2f}"])
    if any(cell[2] != DASH for cell in across):
        lines += ["### Embedding-level judge against media metric, across methods (Spearman ρ of the means)", "",
                  markdown_table(["cell", "methods", "ρ"], across), ""]
    return lines


def skipped_reasons(rows: list[Row], keys: list[str]) -> list[str]:
    reasons: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        for r in row.records:
            for k in keys:
                result: dict[str, Any] = r.metrics.get(k) or {}
                if result.get("status") == "skipped":
                    for missing in result.get("missing") or []:
                        reasons[missing].add(k.removeprefix("media:"))
    if not reasons:
        return []
    return ["### Skipped, and what was missing", ""] + [
        f"- {missing}: {len(cells)} cell{'s' if len(cells) > 1 else ''}" for missing, cells in sorted(reasons.items())
    ] + [""]
