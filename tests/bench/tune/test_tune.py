"""`bench tune` end to end on the smoke profile: every method gets the same trials as ordinary cells, the selection
reads validation tuples only, the tuned file and the Optuna studies are written, a rerun resumes what is missing,
and `bench run` trains at the selected settings (its seed-0 cell is the selected trial's own record)."""
import shutil

import pytest

from bench.core.tuned import read_tuned, tuned_path
from bench.run.plan import RunRequest, plan
from bench.tune.space import load_space
from bench.tune.tune import TuneRequest, tune

METHODS = ["muni", "shala"]
pytestmark = pytest.mark.slow  # trains five smoke cells


def request(out, **changes) -> TuneRequest:
    run = RunRequest(suite="gaussian_mixture", methods=METHODS, seeds=[0], profile="smoke", out=out,
                     show_progress=False, workers=1, tracking_uri=f"sqlite:///{out}/mlflow.db", **changes)
    return TuneRequest(run, load_space(None), trials=2)


@pytest.fixture(scope="module")
def tuned_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("tuned")
    result = tune(request(out))
    assert not result.pending and set(result.selected) == set(METHODS)
    return out


def test_every_method_gets_the_same_trials_and_the_tuned_file_says_what_chose_its_settings(tuned_out):
    tuned = read_tuned(tuned_path(tuned_out, "gaussian_mixture", "smoke"))
    entries = tuned.methods()
    assert list(entries) == METHODS
    settings = [[t["settings"] for t in entries[m]["trials"]] for m in METHODS]
    assert settings[0] == settings[1] == load_space(None).draw(2, 0)  # the same draws for every method
    for method, entry in entries.items():
        assert entry["complete"] and entry["settings"] == entry["trials"][entry["selected_trial"]]["settings"]
        for trial in entry["trials"]:
            assert trial["status"] == "ok" and (tuned_out / trial["record"]).is_file()
            assert set(trial["validation"]) == {"one_to_one/alignment_mse", "unconditional/fidelity_swd",
                                                "unconditional/coherence_mse"} | (
                {"many_to_one/alignment_mse"} if method == "muni" else set())  # ShaLa has no 2→1
    assert tuned.data["selection"]["metrics"][0] == "one_to_one/alignment_mse"


def test_each_method_has_an_optuna_study_of_its_trials(tuned_out):
    import optuna

    storage = f"sqlite:///{tuned_out}/gaussian_mixture/smoke/tuning/optuna.db"
    tuned = read_tuned(tuned_path(tuned_out, "gaussian_mixture", "smoke"))
    for method in METHODS:
        study = optuna.load_study(study_name=f"gaussian_mixture/smoke/{method}", storage=storage)
        scores = [t["score"] for t in tuned.methods()[method]["trials"]]
        assert [t.value for t in study.trials] == scores
        assert study.best_trial.params == tuned.settings(method)


def test_bench_run_trains_at_the_tuned_settings_and_reuses_the_selected_trial(tuned_out):
    tuned = read_tuned(tuned_path(tuned_out, "gaussian_mixture", "smoke"))
    planned = plan(RunRequest(suite="gaussian_mixture", methods=METHODS, seeds=[0, 1], profile="smoke",
                              out=tuned_out))
    for cell in planned.cells:
        assert cell.cfg.train.lr == tuned.settings(cell.cfg.method)["train.lr"]
        assert cell.state()[0] == ("done" if cell.cfg.seed == 0 else "missing")
    assert any("tuned settings from" in note for note in planned.notes)
    shared = plan(RunRequest(suite="gaussian_mixture", methods=METHODS, seeds=[0], profile="smoke", out=tuned_out,
                             tuned="off"))
    assert all(cell.cfg.train.lr == 1e-3 for cell in shared.cells)


def test_a_rerun_trains_only_the_trials_a_kill_left_undone(tuned_out, tmp_path):
    out = tmp_path / "resumed"
    shutil.copytree(tuned_out, out, ignore=shutil.ignore_patterns("checkpoints", "mlruns", "mlflow.db*"))
    before = read_tuned(tuned_path(out, "gaussian_mixture", "smoke")).methods()
    lost = out / before["shala"]["trials"][1]["record"]
    lost.unlink()
    lost.with_suffix(".samples.npz").unlink(missing_ok=True)
    result = tune(request(out))
    after = read_tuned(tuned_path(out, "gaussian_mixture", "smoke")).methods()
    assert lost.is_file() and set(result.selected) == set(METHODS)
    assert after == before  # the retrained trial makes the same record, so the same selection
