"""The paper's findings on image–text–audio (§6.3, Tables 3 and 4), checked on our judge win-rates. Each
comparison is decided on its paired difference (tasks/verdicts.py: a two-level bootstrap over seeds and test
tuples, the same tuple resamples for every method): it holds when the 95% interval excludes 0 on its side and is a
tie when it contains 0. A finding is reproduced when every comparison holds, not reproduced when one fails,
undecided when one is a tie. The paper's numbers are other metrics (CLIP, CLAP, AIS on media); each check also
holds on them."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tasks.verdicts import all_of, compare, estimate

if TYPE_CHECKING:
    from base.results import MetricSpec, Row

VERDICT = {True: "**reproduced**", False: "**not reproduced**",
           None: "**undecided** (the interval of a paired difference contains 0)"}


def check_rows(rows: list[Row], table: list[MetricSpec]) -> list[str]:
    plain = {row.method: row for row in rows if not row.overrides and row.records}
    stats = {m: {s.key: estimate(row, s.key) for s in table} for m, row in plain.items()}
    many = [s.key for s in table if s.direction == "many_to_one"]
    uncond = [s.key for s in table if s.direction == "unconditional"]

    def claim(text: str, needed: list[str], keys: list[str], holds) -> str:
        missing = [m for m in needed if m not in stats or any(stats[m][k] is None for k in keys)]
        if missing:
            return f"{text}: not checked (no results for {', '.join(missing)})."
        return f"{text}: {VERDICT[holds()]} — ours, mean over its {len(keys)} cells: {numbers(needed, keys)}."

    def numbers(methods: list[str], keys: list[str]) -> str:
        out = []
        for m in methods:
            mean = compare([stats[m][k] for k in keys], lambda *v: sum(v) / len(v))
            out.append(f"{m} {mean.value:.2f}" + (f" ± {mean.se:.2f}" if mean.known and mean.se else ""))
        return ", ".join(out)

    def muni_above(key: str, other: str) -> bool | None:
        """The better of MUNI and MUNI† (the larger on each draw) above the other method."""
        cells = [stats["muni"][key], stats["muni_hellinger"][key], stats[other][key]]
        return compare(cells, lambda a, b, c: np.maximum(a, b) - c).decide()

    def mopoe_above_mmvae_on_average() -> bool | None:
        cells = [stats["mopoe"][k] for k in many] + [stats["mmvae"][k] for k in many]
        half = len(many)
        return compare(cells, lambda *v: sum(v[:half]) / half - sum(v[half:]) / half).decide()

    return [
        claim("MUNI or MUNI† is the best generalist in every many-to-one cell (Table 3: above FlowBind)",
              ["muni", "muni_hellinger", "flowbind"], many,
              lambda: all_of(muni_above(k, "flowbind") for k in many)),
        claim("MUNI or MUNI† has the best unconditional coherence of every pair (Table 4: above MMVAE and MoPoE)",
              ["muni", "muni_hellinger", "mmvae", "mopoe"], uncond,
              lambda: all_of(muni_above(k, m) for k in uncond for m in ("mmvae", "mopoe"))),
        claim("MMVAE trails MoPoE on many-to-one, averaged over the six cells (§6.3)", ["mmvae", "mopoe"], many,
              mopoe_above_mmvae_on_average),
    ]
