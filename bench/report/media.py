"""The model of a report's media section, for suites with a media stage (records with "media:<metric>/<cell>" keys):
the paper's table cells as media metrics beside the paper's numbers and the embedding-level values of the same
cells; the one-to-one media metrics per direction; how far the embedding-level scores predict the media ones, per
task (Spearman over the items of each record) and per cell (Spearman over the methods); and what was skipped, and
why. bench/report/render/media.py formats it."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from base.results import MetricSpec, Row


@dataclass(frozen=True)
class MediaValue:
    """One media metric of one row over its seeds: the mean and SD (None below two seeds), or the status when no
    seed has a value (skipped or unsupported)."""

    mean: float | None
    sd: float | None = None
    status: str | None = None


@dataclass(frozen=True)
class MediaCell:
    media: MediaValue
    paper: float | None
    embedding: float | None = None  # the embedding-level judge's mean of the same cell


@dataclass(frozen=True)
class Media:
    methods: list[str]
    layout: list[tuple[MetricSpec, MetricSpec]]  # (media metric, the table's column)
    cells: dict[str, list[MediaCell]]  # method -> one per layout pair
    one_to_one: list[str]  # the one-to-one media keys
    one_to_one_cells: dict[str, list[MediaCell]]  # method -> one per one-to-one key
    not_comparable: list[str]  # Fréchet distances below the paper's sample size
    per_item: dict[str, dict[str, float]]  # media key -> method -> mean Spearman ρ over seeds
    across: list[tuple[str, int, float | None]]  # (cell, methods with both, Spearman ρ of the means)
    skipped: dict[str, int]  # what was missing -> how many cells skipped for it


def media_value(row: Row, key: str) -> MediaValue:
    found = [r.metrics.get(key) for r in row.records]
    values = [m["value"] for m in found if m and m.get("status") == "ok" and m.get("value") is not None]
    if not values:
        statuses = {m.get("status") for m in found if m}
        return MediaValue(None, status=next(iter(sorted(statuses - {"ok"})), None))
    return MediaValue(float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else None)


def mean_of(row: Row, key: str) -> float | None:
    values = [r.metrics[key]["value"] for r in row.records
              if (r.metrics.get(key) or {}).get("value") is not None]
    return float(np.mean(values)) if values else None


def spearman(a: list[float], b: list[float]) -> float | None:
    from scipy.stats import spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def not_comparable(rows: list[Row], keys: list[str]) -> list[str]:
    details = {k: next((r.metrics[k] for row in rows for r in row.records
                        if (r.metrics.get(k) or {}).get("status") == "ok"), {}) for k in keys}
    return sorted({f"{d.get('metric')} on {d.get('encoder')} (n = {d.get('n')} < {d.get('reference_n')})"
                   for d in details.values() if d.get("comparable") is False})


def per_item(rows: list[Row], keys: list[str]) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = defaultdict(dict)
    for row in rows:
        for k in keys:
            values = [(r.metrics.get(k) or {}).get("spearman_with_embedding_judge") for r in row.records]
            values = [v for v in values if v is not None]
            if values:
                found[k][row.method] = float(np.mean(values))
    return dict(found)


def across(rows: list[Row], layout: list[tuple[MetricSpec, MetricSpec]]) -> list[tuple[str, int, float | None]]:
    out = []
    for media_spec, spec in layout:
        pairs = [(mean_of(row, media_spec.key), mean_of(row, spec.key)) for row in rows]
        pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
        out.append((media_spec.label, len(pairs), spearman([a for a, _ in pairs], [b for _, b in pairs])))
    return out


def skipped(rows: list[Row], keys: list[str]) -> dict[str, int]:
    reasons: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        for r in row.records:
            for k in keys:
                result: dict[str, Any] = r.metrics.get(k) or {}
                if result.get("status") == "skipped":
                    for missing in result.get("missing") or []:
                        reasons[missing].add(k.removeprefix("media:"))
    return {missing: len(cells) for missing, cells in sorted(reasons.items())}


def media(rows: list[Row], layout: list[tuple[MetricSpec, MetricSpec]], paper: dict) -> Media | None:
    plain = [row for row in rows if not row.overrides and row.records]
    keys = sorted({k for row in plain for r in row.records for k in r.metrics if k.startswith("media:")})
    if not keys:
        return None
    one = [k for k in keys if "/one_to_one/" in k]
    return Media([row.method for row in plain], layout,
                 {row.method: [MediaCell(media_value(row, media_spec.key), paper.get(row.method, {}).get(spec.key),
                                         mean_of(row, spec.key)) for media_spec, spec in layout] for row in plain},
                 one, {row.method: [MediaCell(media_value(row, k), paper.get(row.method, {}).get(k)) for k in one]
                       for row in plain},
                 not_comparable(plain, one), per_item(plain, keys), across(plain, layout), skipped(plain, keys))
