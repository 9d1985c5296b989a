import re

import numpy as np
import pandas as pd

from base.results import Row
from bench.report.page import write_report
from bench.report.render.tables import written
from tests.bench.records import as_record


def test_report_writes_tables_and_figures_from_records(smoke_results, tmp_path):
    written = write_report("gaussian_mixture", smoke_results, tmp_path)
    assert all(p.parent == tmp_path / "smoke" for p in written)  # non-default profiles get their own folder
    tmp_path = tmp_path / "smoke"
    names = sorted(p.name for p in written)
    assert names == ["gaussian_mixture.csv", "gaussian_mixture.md", "gaussian_mixture.png",
                     "gaussian_mixture.tex", "gaussian_mixture_learning.png", "gaussian_mixture_pairs.png"]
    md = (tmp_path / "gaussian_mixture.md").read_text()
    assert re.search(r"\| muni \| 2 \| (yes|no|1/2) \|", md)  # seeds, settled on the held-out curves
    assert re.search(r"\| shala \| 1 \| (yes|no) \|", md)
    assert md.startswith("# gaussian_mixture") and md.split("\n")[2].startswith(
        "**Budget** 20 steps of 128 samples per cell (the same number of steps for every method) · **seeds** 0, 1 · "
        "**settled** ")
    assert md.split("\n")[4].startswith("| Method | Seeds | Conv. |")  # the table comes next, then the findings
    assert re.search(r"\| muni \| 2 \| [^|]+ \| (\*\*)?\d\.\d+ ± \d\.\d+(\*\*)? \([12]=?\) \| 0\.0508 \|", md)
    oracle = next(line for line in md.splitlines() if line.startswith("| reference: oracle |"))
    assert oracle.count("0.0000") == 3  # the oracle generator's alignment and coherence
    assert "- `reference: oracle` — oracle generator: a fresh draw from the true conditional" in md
    assert "A cell is mean ± SE" in md and "k= marks a rank shared with another row" in md
    assert "## Budget and convergence" in md and "## Was the ranking still moving?" in md
    assert "±" in md and "**" in md and "—" in md  # seed spread, best in bold, unsupported direction
    assert "0.0508" in md  # the paper's number beside ours
    assert "pytest smoke run" in md  # the command that made the records
    muni_options = next(line for line in md.splitlines() if line.startswith("- `muni`: "))
    assert "`target_weight=sum`" in muni_options and "`routes_per_sample=1`" in muni_options  # open choices
    assert "`stage1_fraction=0.5`" in next(line for line in md.splitlines() if line.startswith("- `shala`: "))
    tex = (tmp_path / "gaussian_mixture.tex").read_text()
    assert "\\toprule" in tex and "\\textbf" in tex
    csv = pd.read_csv(tmp_path / "gaussian_mixture.csv")
    assert list(csv["method"]) == ["muni", "shala", "reference: oracle"]
    assert set(csv["unconditional/coherence_mse rank"].dropna()) <= {1, 2}
    muni = csv[csv.method == "muni"].iloc[0]
    key = "unconditional/coherence_mse"
    assert muni[f"{key} se"] > 0 and muni[f"{key} sd"] >= 0  # the SE (seeds and tuples) and the seed spread
    assert muni[f"{key} ci95 low"] < muni[f"{key} mean"] < muni[f"{key} ci95 high"]
    assert not csv.loc[csv.method == "shala", "many_to_one/alignment_mse supported"].item()
    assert csv.loc[csv.method == "muni", "seeds"].item() == 2


def test_report_without_records_says_what_to_run(tmp_path):
    import pytest

    with pytest.raises(FileNotFoundError, match="run 'python -m bench run --suite gaussian_mixture' first"):
        write_report("gaussian_mixture", tmp_path, tmp_path / "reports")


def test_report_sets_other_profiles_beside_this_one(smoke_results, tmp_path):
    import json
    import shutil

    results = tmp_path / "results"
    shutil.copytree(smoke_results, results)
    for path in (results / "gaussian_mixture" / "smoke").rglob("*.json"):  # the same cells, relabelled
        record = json.loads(path.read_text())
        record["profile"] = "bigger"
        (path.parent / ("bigger-" + path.name)).write_text(json.dumps(record))
    md = next(p for p in write_report("gaussian_mixture", results, tmp_path / "reports", profile="smoke")
              if p.suffix == ".md").read_text()
    section = md.split("## The same methods at other profiles")[1].split("## Settings")[0]
    assert "### `smoke` vs `bigger` (1-2 seeds per mean)" in section
    assert "| muni |" in section and "| shala |" in section and "(bigger)" in section


def row(method: str, overrides: list[str], value: float, spread: float = 0.0, seed: int = 0,
        key: str = "m/acc") -> Row:
    """A one-seed row whose replicates scatter by `spread` (the same resamples for the same `seed`)."""
    rng = np.random.default_rng(seed)
    replicates = list(value + spread * rng.standard_normal(100))
    metrics = {key: {"value": value, "replicates": replicates}}
    return Row(method, method, overrides, [as_record({"seed": 0, "metrics": metrics})])


def best(rows, spec) -> set[int]:
    from bench.report.model import column

    return {i for i, value in enumerate(column(rows, spec)) if value.best}


def test_rows_set_apart_by_overrides_are_not_ranked_against_the_tables_rows():
    from bench.report.model import variant_lines
    from tasks.base import MetricSpec

    spec = MetricSpec("m/acc", "Acc.", "one_to_one", "higher")
    rows = [row("muni", [], 0.3, 0.01, 1), row("mopoe", [], 0.9, 0.01, 2), row("muni", ["train.steps=4000"], 0.95)]
    (variant,) = variant_lines(rows, [spec])
    assert variant.variant == "train.steps=4000" and variant.values[spec.key].rank is None
    assert best(rows[:2], spec) == {1}


def test_findings_are_checked_again_for_a_variant_every_method_ran():
    from bench.report.appendix import variant_findings
    from bench.report.render import sections
    from methods import METHODS
    from tasks.gaussian_mixture.suite import GaussianMixture

    def row(method: str, overrides: list[str], value: float) -> Row:
        metrics = {spec.key: {"value": value, "replicates": [value] * 10} for spec in GaussianMixture.table}
        return Row(method, method, overrides, [as_record({"seed": 0, "metrics": metrics})])

    others = [name for name in METHODS.names() if name != "muni"]
    rows = [row("muni", [], 0.5), row("muni", ["train.steps=2400"], 0.1),
            row("muni", ["options.detach_self=false"], 0.4)]
    rows += [row(name, overrides, 0.3) for name in others for overrides in ([], ["train.steps=2400"])]
    (variant,) = variant_findings(rows, GaussianMixture)  # only muni ran detach_self: not a comparison
    assert variant.overrides == ("train.steps=2400",) and not variant.missing and variant.seeds == (1, 1)
    muni = next(m for m in variant.side_by_side if m.method == "muni")
    assert muni.means[GaussianMixture.table[0].key] == (0.5, 0.1)
    coherence = next(f for f in variant.findings if f.claim == "MUNI has the best unconditional coherence")
    assert coherence.verdict == "reproduced"
    text = written(sections.variant_findings([variant], GaussianMixture.table))
    assert "### The same findings with every method at `--set train.steps=2400` (1 seed per method)" in text
    assert "| muni | ? → ? | n/a → n/a | 0.5000 → 0.1000 |" in text  # the table's settings beside the variant
    assert "detach_self" not in text  # only muni ran that variant: not a comparison
    assert "MUNI has the best unconditional coherence: **reproduced** — ours: muni coherence 0.1" in text


def test_a_variant_one_method_lacks_keeps_its_section_and_names_the_missing_method():
    from bench.report.appendix import variant_findings
    from bench.report.render import sections
    from methods import METHODS
    from tasks.gaussian_mixture.suite import GaussianMixture

    def row(method: str, overrides: list[str], value: float) -> Row:
        metrics = {spec.key: {"value": value, "replicates": [value] * 10} for spec in GaussianMixture.table}
        return Row(method, method, overrides, [as_record({"seed": 0, "metrics": metrics})])

    variant = ["flow.weight_clip=0"]
    rows = [row(name, [], 0.3) for name in METHODS.names()]
    rows += [row(name, variant, 0.2) for name in METHODS.names() if name != "flowbind"]
    (found,) = variant_findings(rows, GaussianMixture)
    assert found.missing == ["flowbind"] and found.methods == len(METHODS.names()) - 1
    text = written(sections.variant_findings([found], GaussianMixture.table))
    assert f"### The same findings with {len(METHODS.names()) - 1} methods at `--set flow.weight_clip=0`" in text
    assert "Not run with this variant: flowbind." in text
    assert "| muni | ? → ? | n/a → n/a | 0.3000 → 0.2000 |" in text


def test_cells_show_mean_and_se_and_rows_whose_paired_difference_with_the_best_contains_zero_tie_for_bold():
    from bench.report.model import column
    from bench.report.render.markdown import value_text
    from tasks.base import MetricSpec

    spec = MetricSpec("m/acc", "Acc.", "one_to_one", "higher")
    rows = [row("muni", [], 0.80, 0.02, seed=1), row("mopoe", [], 0.79, 0.02, seed=2),
            row("mmvae", [], 0.60, 0.02, seed=3)]
    values = column(rows, spec)
    assert re.fullmatch(r"\*\*0\.800 ± 0\.0\d\d\*\* \(1=\)", value_text(values[0])), value_text(values[0])
    assert re.fullmatch(r"0\.600 ± 0\.0\d\d \(3\)", value_text(values[2]))  # beaten by both
    assert best(rows, spec) == {0, 1}
    # the same gap, but with the same resamples: the paired difference is 0.01 exactly, so MUNI is ahead
    paired = [row("muni", [], 0.80, 0.02, seed=1), row("mopoe", [], 0.79, 0.02, seed=1)]
    assert best(paired, spec) == {0}
    assert best([rows[0], row("twin", [], 0.80, 0.02, seed=1)], spec) == {0, 1}  # identical: a tie


def test_a_match_metric_is_ranked_by_its_distance_to_the_oracles_value_not_by_size():
    from tasks.base import MetricSpec

    spec = MetricSpec("one_to_one/diversity", "1→1 spread", "one_to_one", "match")
    rows = [row(m, [], v, 0.01, seed=i, key=spec.key) for i, (m, v) in
            enumerate((("muni", 1.22), ("mopoe", 0.95), ("flowbind", 0.0)))]
    oracle = {"value": 1.0, "replicates": list(1.0 + 0.01 * np.random.default_rng(9).standard_normal(100))}
    rows[0].records[0]["metrics"]["reference:oracle/one_to_one/diversity"] = oracle
    assert best(rows, spec) == {1}  # 0.95 is closest to the real 1.0; 1.22 is the largest, not the best
    rows[0].records[0]["metrics"].pop("reference:oracle/one_to_one/diversity")
    assert best(rows, spec) == set()  # without a real value there is nothing to match



def test_an_equal_flop_variant_gets_a_table_of_its_own_beside_the_equal_steps_one():
    from bench.report.model import equal_compute
    from bench.report.render.markdown import equal_compute_lines
    from tasks.gaussian_mixture.suite import GaussianMixture

    budget = ["train.budget=flops", "train.budget_amount=1e12"]

    def row(method: str, overrides: list[str], value: float) -> Row:
        metrics = {spec.key: {"value": value, "replicates": [value] * 10} for spec in GaussianMixture.table}
        train = {"budget": "flops", "budget_amount": 1e12, "batch_size": 512} if overrides else \
            {"budget": "steps", "steps": 1200, "batch_size": 512}
        return Row(method, method, overrides, [as_record({"seed": 0, "metrics": metrics, "config": {"train": train}})])

    rows = [row(m, [], 0.3) for m in ("muni", "mvae", "mopoe")]
    rows += [row("muni", budget, 0.1), row("mvae", budget, 0.2)]
    text = written(equal_compute_lines(equal_compute(rows, GaussianMixture.table)))
    assert "## At equal compute: `--set train.budget=flops` `--set train.budget_amount=1e12`" in text
    assert "**Budget** 1e+12 FLOPs (batches of 512) per cell (the same FLOPs for every method)" in text
    assert "Not run at this budget: mopoe." in text
    assert "| muni | 1 | n/a | **0.1000** (1) |" in text and "| mvae | 1 | n/a | 0.2000 (2) |" in text  # its own ranks


def test_what_a_profile_can_show_names_the_columns_on_which_every_method_ties():
    from bench.report.appendix import scope
    from bench.report.model import build_table
    from bench.report.render.markdown import scope_section
    from tasks.base import MetricSpec

    table = [MetricSpec("m/acc", "Acc.", "one_to_one", "higher"),
             MetricSpec("m/coh", "Coh.", "unconditional", "higher")]

    def two(method: str, acc: float, coh: float, seed: int) -> Row:
        rng = np.random.default_rng(seed)
        metrics = {k: {"value": v, "replicates": list(v + 0.02 * rng.standard_normal(100))}
                   for k, v in (("m/acc", acc), ("m/coh", coh))}
        return Row(method, method, [], [as_record({"seed": 0, "metrics": metrics})])

    rows = [two("muni", 0.80, 0.10, 1), two("mopoe", 0.60, 0.10, 2), two("mmvae", 0.61, 0.11, 3)]
    found = scope(build_table(rows, table, None))
    assert found.blind == ["Coh."] and [c.best for c in found.columns] == [["muni"], ["muni", "mopoe", "mmvae"]]
    text = written(scope_section(found))
    assert "**This profile cannot separate the methods on Coh.**" in text
    assert re.search(r"- \*\*Acc\.\*\*: separates them: 1 of 3 at rank 1 \(muni; 0\.800 ± 0\.0\d\d\)\.", text), text
    assert "- **Coh.**: does not separate the methods: all 3 share rank 1" in text
    assert scope(build_table(rows[:1], table, None)) is None  # one method: nothing to separate


def test_records_made_by_other_code_stay_out_of_the_tables_unless_asked_for(smoke_results, tmp_path):
    import json
    import shutil

    results = tmp_path / "results"
    shutil.copytree(smoke_results, results)
    seed1 = next(results.glob("gaussian_mixture/smoke/muni/*-seed1.json"))
    record = json.loads(seed1.read_text())
    record["code"]["files"]["methods/muni.py"] = "0" * 12  # made by another version of the method
    record["code"]["fingerprint"] = "0" * 12
    seed1.write_text(json.dumps(record))
    md = (write_report("gaussian_mixture", results, tmp_path / "a")[0].parent / "gaussian_mixture.md").read_text()
    assert "**left out** 1 record made by other code (listed at the end)" in md.splitlines()[2]
    assert re.search(r"\| muni \| 1 \|", md) and "‡" not in md.split("## Records made by other code")[0]
    appendix = md.split("## Records made by other code")[1]
    assert "1 record (muni); differs in methods/muni.py" in appendix and "--include-stale" in appendix
    md = (write_report("gaussian_mixture", results, tmp_path / "b", include_stale=True)[0].parent
          / "gaussian_mixture.md").read_text()
    assert re.search(r"\| muni ‡ \| 2 \|", md) and "1 record made by other code, marked ‡" in md.splitlines()[2]


def test_a_tuning_trial_is_no_budget_and_the_tuned_rows_stand_for_their_methods_everywhere():
    from bench.core.tuned import Tuned
    from bench.report.model import build
    from methods import METHODS
    from tasks.gaussian_mixture.suite import GaussianMixture

    def record(method: str, lr: str | None, value: float, profile: str = "cpu") -> object:
        metrics = {spec.key: {"value": value, "replicates": [value] * 10} for spec in GaussianMixture.table}
        return as_record({"method": method, "profile": profile, "config_hash": f"{method}-{lr}-{profile}",
                          "overrides": [f"train.lr={lr}"] if lr else [], "metrics": metrics, "git": {"commit": "c"},
                          "config": {"train": {"budget": "steps", "steps": 100, "batch_size": 8}},
                          "started_at": "2026-12-01T10:00:00+00:00", "finished_at": "2026-12-01T10:05:00+00:00"})

    names = METHODS.names()[:2]
    trials = {m: [{"number": k, "config_hash": f"{m}-{lr}-cpu"} for k, lr in enumerate(("0.001", "0.002"))]
              for m in names}
    tuned = Tuned(None, {"methods": {m: {"complete": True, "settings": {"train.lr": 0.001}, "trials": trials[m]}
                                     for m in names}})
    records = [record(m, lr, v) for m in names for lr, v in (("0.001", 0.1), ("0.002", 0.5))]
    records += [record(m, None, 0.3) for m in names]  # the shared settings
    others = [record(m, None, 0.2, profile="cpu_long") for m in names]
    results = build("gaussian_mixture", records, records + others, "cpu", False, tuned)
    assert [(b.profile, b.overrides) for b in results.budgets.rows] == [("cpu", ()), ("cpu", ("tuned=off",)),
                                                                        ("cpu_long", ())]
    (pair,) = results.appendix.other_profiles
    key = GaussianMixture.table[0].key
    assert pair.means[names[0]][key] == (0.1, 0.2)  # the tuned row, beside the other profile's
