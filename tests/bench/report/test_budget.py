from scipy.optimize import brentq

from bench.core.convergence import loss_trend
from bench.core.records import Record
from bench.report.budget import budgets
from bench.report.render.budget import budgets_lines
from bench.report.render.tables import written
from tasks.base import MetricSpec
from tests.bench.records import as_record

TABLE = [MetricSpec("one_to_one/alignment_mse", "alignment", "one_to_one", ideal="lower")]


def record(method: str, profile: str, change: float, ranks: tuple[float, float], minutes: float = 2.0,
           overrides: tuple[str, ...] = ()) -> Record:
    """Validation checks at 1/2, 3/4, 7/8 and the end, the oracle at 0: settled when the two values agree."""
    values = (ranks[0], ranks[0], ranks[1], ranks[1])
    checks = [{"step": int(100 * f), "fraction": f, "split": "validation", "metrics": {"one_to_one/alignment_mse": v},
               "se": {"one_to_one/alignment_mse": 0.1}, "oracle": {"one_to_one/alignment_mse": 0.0}}
              for f, v in zip((0.5, 0.75, 0.875, 1.0), values)]
    return as_record({"status": "ok", "method": method, "profile": profile, "overrides": list(overrides), "seed": 0,
                      "config": {"train": {"budget": "steps", "steps": 100, "batch_size": 8}},
                      "wall_time": {"total": minutes * 60},
                      "train": {"loss_curve": loss_curve(change), "checks": checks}})


def loss_curve(change: float) -> list[list[float]]:
    """A straight loss curve over 100 steps whose relative change over the last fifth (as bench/core/convergence.py
    reads it from the smoothed curve) is `change`."""
    def line(slope: float) -> list[list[float]]:
        return [[step, 1.0 + slope * (step - 100)] for step in range(0, 101, 5)]

    slope = brentq(lambda s: loss_trend(line(s))["relative_change"] - change, -0.05, 0.05, xtol=1e-14)
    return line(slope)


def test_each_budget_says_whether_every_loss_settled_and_how_much_the_ranking_moved():
    moving = [record("a", "cpu", -0.05, (1.0, 1.0)), record("b", "cpu", -0.002, (2.0, 0.5)),
              record("c", "cpu", -0.003, (3.0, 3.0))]
    settled = [record(m, "long", 0.001, (v, v), minutes=10) for m, v in (("a", 1.0), ("b", 2.0), ("c", 3.0))]
    found = budgets(moving + settled, TABLE)
    cpu, long = found.rows
    assert cpu.settled == (2, 3) and cpu.moving == ["b"] and cpu.loss[1] == "a" and round(cpu.tau, 2) == 0.33
    assert long.settled == (3, 3) and found.settled == [long] and long.cell_minutes == 30
    lines = written(budgets_lines(found)).splitlines()
    rows = {line.split(" | ")[0]: line for line in lines if line.startswith("| `")}
    assert "| 2/3 | b | -5.0% (a) |" in rows["| `cpu`"] and rows["| `cpu`"].endswith("| 0.33 |")  # b overtook a
    assert "| 30 | n/a | 3/3 | - |" in rows["| `long`"] and rows["| `long`"].endswith("| 1.00 |")
    assert lines[-1] == ("Budgets at which every cell had settled on its held-out curves: `long` (30 cell-minutes "
                         "per seed).")


def test_no_budget_settled_and_one_method_alone_is_not_a_budget_comparison():
    moving = [record("a", "cpu", -0.05, (1.0, 1.0)), record("b", "cpu", -0.002, (2.0, 0.5))]
    alone = [record("a", "cpu", 0.0, (1.0, 1.0), overrides=("a.option=1",))]
    other = [record("a", "paper", -0.02, (1.0, 1.0)), record("b", "paper", 0.0, (2.0, 1.0))]
    found = budgets(moving + alone + other, TABLE)
    assert [(b.profile, b.overrides) for b in found.rows] == [("cpu", ()), ("paper", ())]  # a.option: one method
    assert not found.settled and found.measured == 2
    assert "**At none of the budgets measured here" in budgets_lines(found)[-2]
    assert budgets(moving, TABLE) is None  # one budget: nothing to set side by side


def test_a_cell_settles_when_its_distances_to_the_ideal_change_by_less_than_five_percent_and_not_when_one_moves():
    from bench.report.budget import converged, held_out, still_moving

    flat, moved = record("a", "cpu", -0.05, (1.0, 1.04)), record("b", "cpu", 0.0, (1.0, 1.3))
    assert converged(flat) is True  # 4 % < 5 %, although its training loss still fell 5 %
    assert converged(moved) is False and still_moving([flat, moved]) == ["one_to_one/alignment_mse"]
    assert held_out(moved)["window"] == [75, 100] and held_out(moved)["change"]["one_to_one/alignment_mse"] > 0.29
    older = record("c", "cpu", 0.0, (1.0, 1.0))
    for check in older["train"]["checks"]:
        del check["split"], check["oracle"]  # checks on test tuples without the oracle, as records before validation
    assert converged(older) is None


def test_a_jobs_wall_time_is_the_union_of_its_cells_spans_without_the_gaps_between_runs():
    from bench.report.budget import busy_minutes, network_size

    def ran(start: str, end: str) -> Record:
        return as_record({"started_at": f"2026-12-01T{start}:00+00:00", "finished_at": f"2026-12-01T{end}:00+00:00"})

    side_by_side = [ran("10:00", "10:10"), ran("10:00", "10:05"), ran("10:05", "10:12")]
    assert busy_minutes(side_by_side) == 12
    assert busy_minutes(side_by_side + [ran("15:00", "15:03")]) == 15  # a later rerun adds its own span only
    assert busy_minutes([as_record({})]) is None
    model = {"encoder_width": 128, "encoder_blocks": 2, "decoder_width": 128, "decoder_blocks": 2,
             "prior_width": 256, "prior_blocks": 3}
    assert network_size(as_record({"config": {"model": model}})) == "128×2/256×3"
