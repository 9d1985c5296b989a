"""The paper's findings on image–text–audio (§6.3, Tables 3 and 4), checked on our judge win-rates. Each
comparison is decided on its paired difference (tasks/verdicts.py: over seeds and test tuples, the same tuple
resamples for every method): it holds when the 95% interval excludes 0 on its side and is a tie when it contains 0.
A finding is reproduced when every comparison holds, not reproduced when one fails, undecided when one is a tie.
The paper's claims name "MUNI or MUNI†"; a claim here tests, in each cell, the one of the two the paper ranks higher
there (chosen from the published table, not from our numbers: taking whichever scores better here would pick on the
test set), and says which. The paper's numbers are other metrics (CLIP, CLAP, AIS on media); each check also holds
on them."""
from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.findings import NOT_CHECKED, Finding, Number, decided
from tasks.verdicts import all_of, compare, estimate

if TYPE_CHECKING:
    from base.results import MetricSpec, Row

MUNIS = ("muni", "muni_hellinger")  # "MUNI or MUNI†"


def tested(paper: dict[str, dict[str, float | None]], key: str) -> str:
    """Which of MUNI and MUNI† a claim tests in one cell: the one the paper ranks higher there (MUNI without both)."""
    values = {m: (paper.get(m) or {}).get(key) for m in MUNIS}
    if any(v is None for v in values.values()):
        return MUNIS[0]
    return max(MUNIS, key=lambda m: values[m])


def check_rows(rows: list[Row], table: list[MetricSpec], paper: dict | None = None) -> list[Finding]:
    paper = paper or {}
    plain = {row.method: row for row in rows if not row.overrides and row.records}
    stats = {m: {s.key: estimate(row, s.key) for s in table} for m, row in plain.items()}
    many = [s.key for s in table if s.direction == "many_to_one"]
    uncond = [s.key for s in table if s.direction == "unconditional"]

    def claim(text: str, needed: list[str], keys: list[str], holds) -> Finding:
        missing = [m for m in needed if m not in stats or any(stats[m][k] is None for k in keys)]
        if missing:
            return Finding(text, NOT_CHECKED, caveat=f"no results for {', '.join(missing)}")
        caveat = f"ours: the mean over its {len(keys)} cells"
        if MUNIS[0] in needed:
            picks = [tested(paper, k) for k in keys]
            caveat += (f"; tested on {', '.join(f'{m} in {picks.count(m)} cells' for m in MUNIS if picks.count(m))}"
                       " (per cell, the one of MUNI and MUNI† the paper ranks higher)")
        return decided(text, holds(), numbers(needed, keys), caveat=caveat)

    def numbers(methods: list[str], keys: list[str]) -> list[Number]:
        out = []
        for m in methods:
            mean = compare([stats[m][k] for k in keys], lambda *v: sum(v) / len(v))
            out.append(Number(m, "judge win-rate", mean.value, mean.se if mean.known else None))
        return out

    def muni_above(key: str, other: str) -> bool | None:
        return compare([stats[tested(paper, key)][key], stats[other][key]], lambda a, c: a - c).decide()

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
