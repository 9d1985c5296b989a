"""The tuning of each method as an Optuna study in the output directory (`<out>/<suite>/<profile>/tuning/optuna.db`,
one study per method, `optuna-dashboard sqlite:///…/optuna.db` shows them). The records are the truth: a study is
written from the trials' records once all of them finished, and written again only when they changed."""
from __future__ import annotations

from pathlib import Path

from bench.tune.selection import Trial
from bench.tune.space import SearchSpace


def study_name(suite: str, profile: str, method: str) -> str:
    return f"{suite}/{profile}/{method}"


def write_study(storage: Path, name: str, trials: list[Trial], space: SearchSpace) -> None:
    """The study `name` holding these trials: value = the selection score (mean rank, lower is better), the
    validation metrics and the record as user attributes; a failed trial as FAIL."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{storage}"
    wanted = [(t.number, t.config_hash, t.status, t.score if t.status == "ok" else None) for t in trials]
    try:
        existing = optuna.load_study(study_name=name, storage=url)
        held = [(t.user_attrs.get("number"), t.user_attrs.get("config_hash"), t.user_attrs.get("status"), t.value)
                for t in existing.trials]
        if held == wanted:
            return
        optuna.delete_study(study_name=name, storage=url)
    except KeyError:
        pass
    study = optuna.create_study(study_name=name, storage=url, direction="minimize")
    distributions = space.distributions()
    for t in trials:
        state = optuna.trial.TrialState.COMPLETE if t.status == "ok" else optuna.trial.TrialState.FAIL
        study.add_trial(optuna.trial.create_trial(
            params=t.settings, distributions={k: distributions[k] for k in t.settings},
            value=t.score if t.status == "ok" else None, state=state,
            user_attrs={"number": t.number, "config_hash": t.config_hash, "status": t.status, "record": t.record,
                        "reason": t.reason, "validation": t.validation, "oracle": t.oracle}))
