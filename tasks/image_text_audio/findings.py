"""The paper's findings on image–text–audio (§6.3, Tables 3 and 4), checked on our judge win-rates. Each
comparison is decided with its noise: twice the standard error of the difference, from the spread over seeds and
the sampling noise of the test rows (the record's bootstrap interval, or where it has none 100/sqrt(12 n): the
spread of a uniform per-pair win fraction). A
finding is reproduced when every comparison holds, not reproduced when one fails, undecided when one is a tie.
The paper's numbers are other metrics (CLIP, CLAP, AIS on media); each check also holds on them."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tasks.verdicts import all_of, decide

if TYPE_CHECKING:
    from base.results import MetricSpec, Row

VERDICT = {True: "**reproduced**", False: "**not reproduced**",
           None: "**undecided** (a comparison lies within the seed spread or the win-rate's sampling noise)"}


@dataclass(frozen=True)
class Stat:
    mean: float
    noise: float = 0.0  # standard error of the mean (seeds and sampling together)


def stat(row: Row, key: str) -> Stat | None:
    values = row.values(key)
    if not values:
        return None
    seed_se = float(np.std(values, ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    sampling = max(sampling_error(r["metrics"], key) for r in row.records) / math.sqrt(len(values))
    return Stat(float(np.mean(values)), math.hypot(seed_se, sampling))


def sampling_error(metrics: dict, key: str) -> float:
    """The standard error of one record's value over its test rows: from its 95% bootstrap interval (half-width
    over 1.96), else the bound for a win-rate over n pairs."""
    low, high = metrics.get(f"ci95_low:{key}"), metrics.get(f"ci95_high:{key}")
    if low and high and low.get("value") is not None and high.get("value") is not None:
        return (high["value"] - low["value"]) / (2 * 1.96)
    n = (metrics.get(key) or {}).get("n") or 0
    return 100.0 / math.sqrt(12 * n) if n > 0 else 0.0


def above(a: Stat, b: Stat) -> bool | None:
    return decide(a.mean - b.mean, 2 * math.hypot(a.noise, b.noise))


def check_rows(rows: list[Row], table: list[MetricSpec]) -> list[str]:
    plain = {row.method: row for row in rows if not row.overrides and row.records}
    stats = {m: {s.key: stat(row, s.key) for s in table} for m, row in plain.items()}
    many = [s.key for s in table if s.direction == "many_to_one"]
    uncond = [s.key for s in table if s.direction == "unconditional"]

    def claim(text: str, needed: list[str], keys: list[str], holds) -> str:
        missing = [m for m in needed if m not in stats or any(stats[m][k] is None for k in keys)]
        if missing:
            return f"{text}: not checked (no results for {', '.join(missing)})."
        return f"{text}: {VERDICT[holds()]}."

    def best_muni(key: str) -> Stat:
        return max((stats[m][key] for m in ("muni", "muni_hellinger")), key=lambda s: s.mean)

    def mean_over(method: str, keys: list[str]) -> Stat:
        cells = [stats[method][k] for k in keys]
        return Stat(float(np.mean([c.mean for c in cells])),
                    math.sqrt(sum(c.noise ** 2 for c in cells)) / len(cells))

    return [
        claim("MUNI or MUNI† is the best generalist in every many-to-one cell (Table 3: above FlowBind)",
              ["muni", "muni_hellinger", "flowbind"], many,
              lambda: all_of(above(best_muni(k), stats["flowbind"][k]) for k in many)),
        claim("MUNI or MUNI† has the best unconditional coherence of every pair (Table 4: above MMVAE and MoPoE)",
              ["muni", "muni_hellinger", "mmvae", "mopoe"], uncond,
              lambda: all_of(above(best_muni(k), stats[m][k]) for k in uncond for m in ("mmvae", "mopoe"))),
        claim("MMVAE trails MoPoE on many-to-one, averaged over the six cells (§6.3)", ["mmvae", "mopoe"], many,
              lambda: above(mean_over("mopoe", many), mean_over("mmvae", many))),
    ]
