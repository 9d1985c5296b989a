"""The budget sections of a report page, in Markdown, from bench/report/budget.py's model: what each row's cells
consumed and whether they settled, whether the ranking was still moving during training, and which budget the
problem needs."""
from __future__ import annotations

from bench.core.convergence import CONVERGED_BELOW, SETTLED_RULE
from bench.report.budget import Budgets, Consumption, RankingMoves
from bench.report.render.tables import Lines


def budget_lines(consumed: list[Consumption]) -> Lines:
    """What each row's cells consumed, and whether they had settled."""
    if not consumed:
        return []
    header = ["Method", "budget", "steps", "samples", "examples per decoder", "prior examples", "GFLOP",
              "train min", "loss change, last fifth (secondary)", "still moving", "settled"]

    def shown(value: float | None, form: str) -> str:
        return "n/a" if value is None else form.format(value)

    body = [[c.label, c.budget, shown(c.steps, "{:.0f}"), shown(c.samples, "{:.3g}"),
             shown(c.decoder_examples, "{:.3g}"), shown(c.prior_examples, "{:.3g}"),
             shown(c.gflop, "{:.4g}") + (" (probe)" if c.gflop_probed else ""), shown(c.train_minutes, "{:.1f}"),
             shown(c.loss_change, "{:+.1%}"), ", ".join(c.moving) or "-", c.settled] for c in consumed]
    return ["## Budget and convergence", "",
            "What each row's cells consumed (means over seeds): training steps and samples, the examples each "
            "decoder saw (mean over decoders) and the prior networks saw (routes that train them), matmul FLOPs "
            "(counted by torch.utils.flop_counter during training, on each logging step and each stage's first, "
            "times the steps; '(probe)': estimated from a 3-step probe, as records before the count), training "
            "wall time, the relative change of the smoothed training loss over the last fifth of training (a "
            "secondary reading: it depends on the loss's offset and scale), the held-out metrics that moved more "
            f"than their interval over the last quarter, and whether every cell had settled ({SETTLED_RULE}). "
            "'n/a': the record predates this accounting.", "",
            (header, body), ""]


def ranking_lines(moves: RankingMoves | None) -> Lines:
    """How the methods ranked at each quarter of training, and Kendall's τ between three quarters and the end."""
    if moves is None:
        return []
    lines = ["## Was the ranking still moving?", "",
             "Each cell evaluated a quick version of the task matrix (the first "
             f"{moves.quick_n} test tuples, the same noise at every check and for every method) during its "
             "training. Methods are ranked on each metric at each quarter (1 = best); τ is Kendall's rank "
             "correlation between the ranking at three quarters and at the end (1: unchanged). These orderings "
             "carry no intervals: read a swap of two methods whose final values are tied as noise.", ""]
    header = ["metric"] + [f"{f:.0%}" for f in moves.fractions] + ["τ (75% vs 100%)"]
    body = [[m.spec.label] + [" > ".join(order) for order in m.orders] + ["n/a" if m.tau is None else f"{m.tau:.2f}"]
            for m in moves.metrics]
    return lines + [(header, body), ""]


def budgets_lines(found: Budgets | None) -> Lines:
    """Every budget this suite has records for, side by side: which budget does this problem need?"""
    if found is None:
        return []
    header = ["profile", "settings", "budget", "data", "networks (width×blocks)", "methods", "cells",
              "Σ cell min (1 seed)", "job min per seed", "settled", "not settled", "largest loss change, last fifth",
              "ranking τ 75%→100% (median)"]
    body = [[f"`{b.profile}`{' ‡' if b.stale else ''}", " ".join(f"`{o}`" for o in b.overrides) or "-", b.budget,
             " ".join(f"{k}={v}" for k, v in b.data.items()) or "-", b.networks, str(b.methods), str(b.cells),
             f"{b.cell_minutes:.0f}", "n/a" if b.job_minutes is None else f"{b.job_minutes:.0f}",
             "n/a" if b.settled is None else f"{b.settled[0]}/{b.settled[1]}",
             "n/a" if b.settled is None else (", ".join(b.moving) or "-"),
             "n/a" if b.loss is None else f"{b.loss[0]:+.1%} ({b.loss[1]})",
             "n/a" if b.tau is None else f"{b.tau:.2f}"] for b in found.rows]
    if found.settled:
        verdict = ("Budgets at which every cell had settled on its held-out curves: "
                   + "; ".join(f"`{b.profile}`" + (f" with {' '.join(b.overrides)}" if b.overrides else "")
                               + f" ({b.cell_minutes:.0f} cell-minutes per seed)" for b in found.settled) + ".")
    elif found.measured:
        verdict = "**At none of the budgets measured here had every cell settled on its held-out curves.**"
    else:
        verdict = ("None of these records carries held-out convergence curves (they predate them): run them "
                   "again to answer this.")
    return ["## Which budget does this problem need?", "",
            "Every budget with records of at least two methods: the data settings that differ between them, its "
            "networks, the sum over methods of one seed's cell time, the job's wall-clock time per seed (the union "
            "of its cells' started→finished spans, with cells side by side, divided by the seeds it ran; devices: "
            f"{', '.join(found.machines)}), the cells that had settled "
            f"({SETTLED_RULE}) and the methods with a cell that had not, the method whose smoothed training loss "
            f"still moved most over the last fifth (secondary; {CONVERGED_BELOW:.0%} reads as flat), and the median "
            "over metrics of Kendall's τ between the methods' ranking at three quarters of training and at the end "
            "(1: unchanged). ‡: made by other code than this checkout's.", "",
            (header, body), "", verdict, ""]
