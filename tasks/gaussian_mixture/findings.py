"""The paper's qualitative findings on the Gaussian-mixture suite (App. D, Tab. 5), each turned into a check
that can be run on our numbers and on the published ones. Thresholds say what "strong", "fails" and "trails"
mean; every check holds on the paper's own Table 5.

Our numbers carry noise, so every comparison is decided on its paired difference (tasks/verdicts.py): "a < c·b"
holds when the 95% interval of c·b − a (two-level bootstrap over seeds and test tuples) lies above 0, fails when
it lies below, and is a tie when it contains 0. A finding is reproduced when all its comparisons hold, not
reproduced when one fails, and undecided when none fails but one is a tie. The paper's numbers have no spread
and are compared exactly."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tasks.verdicts import Estimate, all_of, below, estimate
from tasks.verdicts import exact as exact_estimate

ONE, MANY = "one_to_one/alignment_mse", "many_to_one/alignment_mse"
FID, COH = "unconditional/fidelity_swd", "unconditional/coherence_mse"
KEYS = (ONE, MANY, FID, COH)
SHORT = {ONE: "1→1", MANY: "2→1", FID: "fidelity", COH: "coherence"}
PAPER_METHODS = ("mvae", "mmvae", "mopoe", "helvae", "mmvae_plus", "shala", "muni")
VERDICT = {True: "**reproduced**", False: "**not reproduced**",
           None: "**undecided** (the interval of a paired difference contains 0)"}

Table = dict[str, dict[str, Estimate]]  # method -> metric key -> estimate (lower is better for every key here)


def less(t: Table, a: str, b: str, key: str, factor: float = 1.0) -> bool | None:
    """Is t[a] < factor·t[b]? True or False when the interval of factor·t[b] − t[a] excludes 0, else None."""
    return below(t[a][key], t[b][key], factor)


def best_method(t: Table, key: str) -> str:
    return min((m for m in t if key in t[m]), key=lambda m: t[m][key].mean)


def is_best(t: Table, method: str, key: str) -> bool | None:
    return all_of(less(t, method, m, key) for m in t if m != method and key in t[m])


def is_worst(t: Table, method: str, key: str) -> bool | None:
    return all_of(less(t, m, method, key) for m in t if m != method and key in t[m])


def near_best(t: Table, method: str, key: str, factor: float = 2.5) -> bool | None:
    best = best_method(t, key)
    return True if best == method else less(t, method, best, key, factor)


def far_from(t: Table, method: str, reference: str, key: str, factor: float) -> bool | None:
    """t[method] is at least `factor` times t[reference]."""
    return less(t, reference, method, key, 1.0 / factor)


@dataclass(frozen=True)
class Finding:
    claim: str
    methods: tuple[str, ...]
    keys: tuple[str, ...]
    holds: Callable[[Table], bool | None]


FINDINGS = [
    Finding("MUNI has the best unconditional coherence", ("muni",), (COH,), lambda t: is_best(t, "muni", COH)),
    Finding("MUNI has the best unconditional fidelity", ("muni",), (FID,), lambda t: is_best(t, "muni", FID)),
    Finding("mixture-based methods (MMVAE, MMVAE+) are strong one-to-one (within 2.5× of the best 1→1)",
            ("mmvae", "mmvae_plus"), (ONE,),
            lambda t: all_of(near_best(t, m, ONE) for m in ("mmvae", "mmvae_plus"))),
    Finding("... but fail two-to-one (2→1 error at least 3× the best 2→1)", ("mmvae", "mmvae_plus"), (MANY,),
            lambda t: all_of(far_from(t, m, best_method(t, MANY), MANY, 3) for m in ("mmvae", "mmvae_plus"))),
    Finding("... and fail unconditional coherence (at least 3× MUNI's error)", ("mmvae", "mmvae_plus", "muni"),
            (COH,), lambda t: all_of(far_from(t, m, "muni", COH, 3) for m in ("mmvae", "mmvae_plus"))),
    Finding("MoPoE is strong conditionally (1→1 and 2→1 within 2.5× of the best)", ("mopoe",), (ONE, MANY),
            lambda t: all_of(near_best(t, "mopoe", k) for k in (ONE, MANY))),
    Finding("... but less coherent unconditionally (coherence error at least 2× MUNI's)", ("mopoe", "muni"),
            (COH,), lambda t: far_from(t, "mopoe", "muni", COH, 2)),
    Finding("MVAE and HELVAE trail on alignment (1→1 and 2→1 worse than both MUNI and MoPoE)",
            ("mvae", "helvae", "muni", "mopoe"), (ONE, MANY),
            lambda t: all_of(less(t, good, bad, k) for bad in ("mvae", "helvae") for good in ("muni", "mopoe")
                             for k in (ONE, MANY))),
    Finding("ShaLa is weak on alignment under the same budget (the worst 1→1 of all)", ("shala",), (ONE,),
            lambda t: is_worst(t, "shala", ONE)),
]


def show(t: Table, methods: tuple[str, ...], keys: tuple[str, ...]) -> str:
    """The finding's own numbers (± standard error where they have one), then the best other method on each metric
    for context."""
    def value(m: str, k: str) -> str:
        s = t[m][k]
        se = s.se
        return f"{s.mean:.4g}" + (f" ± {se:.2g}" if se else "")

    own = [f"{m} {SHORT[k]} {value(m, k)}" for m in methods for k in keys if k in t.get(m, {})]
    for k in keys:
        others = [m for m in t if m not in methods and k in t[m]]
        if others:
            m = min(others, key=lambda o: t[o][k].mean)
            own.append(f"best other {SHORT[k]}: {m} {value(m, k)}")
    return ", ".join(own)


def check_findings(ours: Table, paper: Table) -> list[str]:
    """One line per finding: reproduced / not reproduced / undecided, with our numbers and the paper's."""
    ours = {m: v for m, v in ours.items() if m in PAPER_METHODS}
    lines = []
    for f in FINDINGS:
        missing = [m for m in f.methods if m not in ours or any(k not in ours[m] for k in f.keys)]
        if missing or set(ours) != set(PAPER_METHODS):
            absent = sorted(set(PAPER_METHODS) - set(ours)) + missing
            lines.append(f"{f.claim}: cannot check here (no results for {', '.join(sorted(set(absent)))})")
            continue
        lines.append(f"{f.claim}: {VERDICT[f.holds(ours)]} — ours: {show(ours, f.methods, f.keys)}; "
                     f"paper: {show(paper, f.methods, f.keys)}")
    return lines


def exact(values: dict[str, dict[str, float | None]]) -> Table:
    """Numbers without spread (the paper's)."""
    return {m: {k: exact_estimate(v) for k, v in keys.items() if v is not None} for m, keys in values.items()}


def from_rows(rows) -> Table:
    """The estimate of every metric of the plain rows (base.results.Row): per-seed values and replicates."""
    table: Table = {}
    for row in rows:
        if row.overrides or not row.records:
            continue
        table[row.method] = {key: found for key in KEYS if (found := estimate(row, key)) is not None}
    return table


def check_rows(rows, paper: dict[str, dict[str, float | None]]) -> list[str]:
    return check_findings(from_rows(rows), exact(paper))
