"""The paper's qualitative findings on the Gaussian-mixture suite (App. D, Tab. 5), each turned into a check
that can be run on our numbers and on the published ones. Thresholds say what "strong", "fails" and "trails"
mean; every check holds on the paper's own Table 5."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ONE, MANY = "one_to_one/alignment_mse", "many_to_one/alignment_mse"
FID, COH = "unconditional/fidelity_swd", "unconditional/coherence_mse"
SHORT = {ONE: "1→1", MANY: "2→1", FID: "fidelity", COH: "coherence"}
PAPER_METHODS = ("mvae", "mmvae", "mopoe", "helvae", "mmvae_plus", "shala", "muni")
Table = dict[str, dict[str, float]]  # method -> metric key -> mean (lower is better for every key here)


def best(t: Table, key: str) -> float:
    return min(v[key] for v in t.values() if v.get(key) is not None)


def worst_method(t: Table, key: str) -> str:
    return max((m for m in t if t[m].get(key) is not None), key=lambda m: t[m][key])


def near_best(t: Table, method: str, key: str, factor: float = 2.5) -> bool:
    return t[method][key] <= factor * best(t, key)


@dataclass(frozen=True)
class Finding:
    claim: str
    methods: tuple[str, ...]
    keys: tuple[str, ...]
    holds: Callable[[Table], bool]


FINDINGS = [
    Finding("MUNI has the best unconditional coherence", ("muni",), (COH,),
            lambda t: t["muni"][COH] == best(t, COH)),
    Finding("MUNI has the best unconditional fidelity", ("muni",), (FID,),
            lambda t: t["muni"][FID] == best(t, FID)),
    Finding("mixture-based methods (MMVAE, MMVAE+) are strong one-to-one (within 2.5× of the best 1→1)",
            ("mmvae", "mmvae_plus"), (ONE,),
            lambda t: near_best(t, "mmvae", ONE) and near_best(t, "mmvae_plus", ONE)),
    Finding("... but fail two-to-one (2→1 error at least 3× the best 2→1)", ("mmvae", "mmvae_plus"), (MANY,),
            lambda t: min(t["mmvae"][MANY], t["mmvae_plus"][MANY]) >= 3 * best(t, MANY)),
    Finding("... and fail unconditional coherence (at least 3× MUNI's error)", ("mmvae", "mmvae_plus", "muni"),
            (COH,), lambda t: min(t["mmvae"][COH], t["mmvae_plus"][COH]) >= 3 * t["muni"][COH]),
    Finding("MoPoE is strong conditionally (1→1 and 2→1 within 2.5× of the best)", ("mopoe",), (ONE, MANY),
            lambda t: near_best(t, "mopoe", ONE) and near_best(t, "mopoe", MANY)),
    Finding("... but less coherent unconditionally (coherence error at least 2× MUNI's)", ("mopoe", "muni"),
            (COH,), lambda t: t["mopoe"][COH] >= 2 * t["muni"][COH]),
    Finding("MVAE and HELVAE trail on alignment (1→1 and 2→1 worse than both MUNI and MoPoE)",
            ("mvae", "helvae", "muni", "mopoe"), (ONE, MANY),
            lambda t: all(t[m][k] > max(t["muni"][k], t["mopoe"][k]) for m in ("mvae", "helvae") for k in (ONE, MANY))),
    Finding("ShaLa is weak on alignment under the same budget (the worst 1→1 of all)", ("shala",), (ONE,),
            lambda t: worst_method(t, ONE) == "shala"),
]


def show(t: Table, methods: tuple[str, ...], keys: tuple[str, ...]) -> str:
    """The finding's own numbers, then the best other method on each metric for context."""
    own = [f"{m} {SHORT[k]} {t[m][k]:.4g}" for m in methods for k in keys if t.get(m, {}).get(k) is not None]
    for k in keys:
        others = [m for m in t if m not in methods and t[m].get(k) is not None]
        if others:
            m = min(others, key=lambda o: t[o][k])
            own.append(f"best other {SHORT[k]}: {m} {t[m][k]:.4g}")
    return ", ".join(own)


def check_findings(ours: Table, paper: Table) -> list[str]:
    """One line per finding: reproduced / not reproduced, with our numbers and the paper's."""
    ours = {m: v for m, v in ours.items() if m in PAPER_METHODS}
    lines = []
    for f in FINDINGS:
        missing = [m for m in f.methods if m not in ours or any(ours[m].get(k) is None for k in f.keys)]
        if missing or set(ours) != set(PAPER_METHODS):
            absent = sorted(set(PAPER_METHODS) - set(ours)) + missing
            lines.append(f"{f.claim}: cannot check here (no results for {', '.join(sorted(set(absent)))})")
            continue
        verdict = "**reproduced**" if f.holds(ours) else "**not reproduced**"
        lines.append(f"{f.claim}: {verdict} — ours: {show(ours, f.methods, f.keys)}; "
                     f"paper: {show(paper, f.methods, f.keys)}")
    return lines
