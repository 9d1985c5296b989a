"""The paper's qualitative findings on the Gaussian-mixture suite (App. D, Tab. 5), each turned into a check
that can be run on our numbers and on the published ones. Thresholds say what "strong", "fails" and "trails"
mean; every check holds on the paper's own Table 5.

Our numbers carry noise, so every comparison is decided on its paired difference (tasks/verdicts.py): "a < c·b"
holds when the 95% interval of c·b − a (over seeds and test tuples) lies above 0, fails when it lies below, and is
a tie when it contains 0. A finding is reproduced when all its comparisons hold, not reproduced when one fails,
and undecided when none fails but one is a tie. The paper's numbers have no spread and are compared exactly. Each
finding comes back as data (tasks/findings.py) with its own numbers and, per metric, the best other method and
the methods tied with it."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tasks.findings import NOT_CHECKED, Finding, Number, best_and_ties, decided
from tasks.verdicts import Estimate, all_of, below, estimate
from tasks.verdicts import exact as exact_estimate

ONE, MANY = "one_to_one/alignment_mse", "many_to_one/alignment_mse"
FID, COH = "unconditional/fidelity_swd", "unconditional/coherence_mse"
KEYS = (ONE, MANY, FID, COH)
SHORT = {ONE: "1→1", MANY: "2→1", FID: "fidelity", COH: "coherence"}
PAPER_METHODS = ("mvae", "mmvae", "mopoe", "helvae", "mmvae_plus", "shala", "muni")

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
class Claim:
    claim: str
    methods: tuple[str, ...]
    keys: tuple[str, ...]
    holds: Callable[[Table], bool | None]


FINDINGS = [
    Claim("MUNI has the best unconditional coherence", ("muni",), (COH,), lambda t: is_best(t, "muni", COH)),
    Claim("MUNI has the best unconditional fidelity", ("muni",), (FID,), lambda t: is_best(t, "muni", FID)),
    Claim("mixture-based methods (MMVAE, MMVAE+) are strong one-to-one (within 2.5× of the best 1→1)",
            ("mmvae", "mmvae_plus"), (ONE,),
            lambda t: all_of(near_best(t, m, ONE) for m in ("mmvae", "mmvae_plus"))),
    Claim("... but fail two-to-one (2→1 error at least 3× the best 2→1)", ("mmvae", "mmvae_plus"), (MANY,),
            lambda t: all_of(far_from(t, m, best_method(t, MANY), MANY, 3) for m in ("mmvae", "mmvae_plus"))),
    Claim("... and fail unconditional coherence (at least 3× MUNI's error)", ("mmvae", "mmvae_plus", "muni"),
            (COH,), lambda t: all_of(far_from(t, m, "muni", COH, 3) for m in ("mmvae", "mmvae_plus"))),
    Claim("MoPoE is strong conditionally (1→1 and 2→1 within 2.5× of the best)", ("mopoe",), (ONE, MANY),
            lambda t: all_of(near_best(t, "mopoe", k) for k in (ONE, MANY))),
    Claim("... but less coherent unconditionally (coherence error at least 2× MUNI's)", ("mopoe", "muni"),
            (COH,), lambda t: far_from(t, "mopoe", "muni", COH, 2)),
    Claim("MVAE and HELVAE trail on alignment (1→1 and 2→1 worse than both MUNI and MoPoE)",
            ("mvae", "helvae", "muni", "mopoe"), (ONE, MANY),
            lambda t: all_of(less(t, good, bad, k) for bad in ("mvae", "helvae") for good in ("muni", "mopoe")
                             for k in (ONE, MANY))),
    Claim("ShaLa is weak on alignment under the same budget (the worst 1→1 of all)", ("shala",), (ONE,),
            lambda t: is_worst(t, "shala", ONE)),
]


def numbers(t: Table, methods: tuple[str, ...], keys: tuple[str, ...]) -> list[Number]:
    """The finding's own numbers, then per metric the best other method and those tied with it (a paired
    difference that does not separate them)."""
    own = [Number.of(m, SHORT[k], t[m][k]) for m in methods for k in keys if k in t.get(m, {})]
    for k in keys:
        others = {m: t[m][k] for m in t if m not in methods and k in t[m]}
        if others:
            best, tied = best_and_ties(others, "lower")
            own.append(Number.of(best, SHORT[k], others[best], "best other"))
            own.extend(Number.of(m, SHORT[k], others[m], "tied with the best other") for m in tied)
    return own


def check_findings(ours: Table, paper: Table) -> list[Finding]:
    """Each finding decided on our numbers (reproduced / not reproduced / undecided), with the paper's beside."""
    ours = {m: v for m, v in ours.items() if m in PAPER_METHODS}
    out = []
    for f in FINDINGS:
        missing = [m for m in f.methods if m not in ours or any(k not in ours[m] for k in f.keys)]
        if missing or set(ours) != set(PAPER_METHODS):
            absent = sorted(set(set(PAPER_METHODS) - set(ours)) | set(missing))
            out.append(Finding(f.claim, NOT_CHECKED, caveat=f"no results for {', '.join(absent)}"))
            continue
        out.append(decided(f.claim, f.holds(ours), numbers(ours, f.methods, f.keys),
                           numbers(paper, f.methods, f.keys)))
    return out


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


def check_rows(rows, paper: dict[str, dict[str, float | None]]) -> list[Finding]:
    return check_findings(from_rows(rows), exact(paper))
