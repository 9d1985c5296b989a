"""The paper's findings on PolyMNIST-Quadrant-Labels (§6.2, App. E.1), checked against the records on paired
differences (tasks/verdicts.py: over seeds and test tuples), returned as data (tasks/findings.py): notes on the data,
the verifier and the budget first, then each claim with its verdict."""
from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.findings import NOT_CHECKED, NOT_TESTABLE, Finding, Number, decided, note
from tasks.verdicts import above, all_of, estimate, exact

if TYPE_CHECKING:
    from base.results import MetricSpec, Row

# what a generator that ignores its condition scores; a claim is only checked when some method clears it
CHANCE = {"single_label/digit_alignment": 0.1, "single_label/quadrant_alignment": 0.25,
          "multi_label/alignment": 0.025, "unconditional/coherence": 0.0}
CHANCE_MARGIN = 0.05
PAPER_EPOCHS = 200  # App. E.1, Table E.2


def findings(rows: list[Row], specs: dict[str, MetricSpec]) -> list[Finding]:
    """The data caveat, the verifier's accuracy, and the paper's claims, each stated as (not) reproduced."""
    records = [r for row in rows for r in row.records]
    if not records:
        return []
    out = []
    if any(r.config["data"]["source"] != "mnist" for r in records):
        out.append(note("Data: the digits come from scikit-learn's 8×8 digits (data.source=sklearn_digits), not MNIST: "
                        "these numbers are NOT comparable to the paper's."))
    accuracy = {k: records[0].metrics.get(f"verifier/{k}_accuracy", {}).get("value") for k in ("digit", "quadrant")}
    if None not in accuracy.values():
        gate = records[0].config["data"]["verifier_min_accuracy"]
        out.append(note(f"Verifier held-out accuracy on real test images: digit {accuracy['digit']:.4f}, quadrant "
                        f"{accuracy['quadrant']:.4f} (results are withheld below {gate})."))
    plain = [r for row in rows if not row.overrides for r in row.records] or records
    out.append(note(budget_line(plain[0].config)))
    stats = {row.method: {k: found for k in specs if (found := estimate(row, k)) is not None}
             for row in rows if not row.overrides}
    coh, both, quad = "unconditional/coherence", "multi_label/alignment", "single_label/quadrant_alignment"

    def claim(text: str, needed: list[str], key: str, holds) -> Finding:
        missing = [m for m in needed if key not in stats.get(m, {})]
        if missing:
            return Finding(text, NOT_CHECKED, caveat=f"no results for {', '.join(missing)}")
        values = {m: stats[m][key] for m in needed}
        ours = [Number.of(m, specs[key].label, v) for m, v in values.items()]
        best = max(v.mean for v in values.values())
        if best <= CHANCE[key] + CHANCE_MARGIN:
            return Finding(text, NOT_TESTABLE, tuple(ours), caveat=f"every compared method within {CHANCE_MARGIN} "
                           f"of chance ({CHANCE[key]}) at this budget; best {best:.3f}")
        return decided(text, holds(values), ours)

    with_coh = [m for m in stats if coh in stats[m]]
    out.append(claim("MUNI has the best unconditional coherence (paper: 0.4841, next ShaLa 0.4539)",
                     ["muni", *[m for m in with_coh if m != "muni"]], coh,
                     lambda v: all_of(above(v["muni"], v[m]) for m in v if m != "muni")))
    out.append(claim("MUNI's multi-label alignment is far above MMVAE's and MMVAE+'s (paper: 0.93 vs 0.16, 0.17)",
                     ["muni", "mmvae", "mmvae_plus"], both,
                     lambda v: all_of(above(v["muni"], v[m], 0.1) for m in ("mmvae", "mmvae_plus"))))
    out.append(claim("MVAE has the lowest unconditional coherence (paper: 0.0079)",
                     ["mvae", *[m for m in with_coh if m != "mvae"]], coh,
                     lambda v: all_of(above(v[m], v["mvae"]) for m in v if m != "mvae")))
    learned = {m: stats[m][quad].mean > CHANCE[quad] + CHANCE_MARGIN for m in stats if quad in stats[m]}
    if learned:
        out.append(note(f"Which methods place the digit in the conditioned quadrant above chance (> "
                        f"{CHANCE[quad] + CHANCE_MARGIN:.2f}): "
                        f"{', '.join(m for m, ok in learned.items() if ok) or 'none'}"
                        f"; at chance: {', '.join(m for m, ok in learned.items() if not ok) or 'none'}."))
    with_quad = [m for m in stats if quad in stats[m] and m != "mvae"]
    out.append(claim("Quadrant alignment is near perfect (≥ 0.99) for every method but MVAE (paper: ≥ 0.99 vs 0.68)",
                     with_quad or ["muni"], quad, lambda v: all_of(above(x, exact(0.99)) for x in v.values())))
    return out


def budget_line(config: dict) -> str:
    """How much training the records had, in passes over the training tuples, against the paper's."""
    train, data = config["train"], config["data"]
    epochs = train["steps"] * train["batch_size"] / data["n_train"]
    return (f"Budget: {train['steps']} steps of {train['batch_size']} tuples, {epochs:.1f} passes over "
            f"{data['n_train']} training tuples at {data['canvas']}×{data['canvas']} (the paper trains "
            f"{PAPER_EPOCHS} epochs at 64×64).")
