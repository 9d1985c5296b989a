"""`bench tune`: equal-effort tuning. Every method gets the same search space and the same number of trials, drawn
i.i.d. by a seeded sampler (bench/tune/space.py); each trial is an ordinary cell (`--set` of its settings, at the
profile's shared settings otherwise) run through the runner, so it runs here or on Ray, resumes after a kill and
leaves a record like any other. Selection reads validation tuples only (bench/tune/selection.py). What it writes:
the tuned-settings file `bench run` reads (bench/core/tuned.py) and one Optuna study per method beside it
(bench/tune/study.py)."""
from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.core.errors import UsageError
from bench.core.tuned import as_overrides, tuned_path, tuning_dir, write_tuned
from bench.run.plan import Plan, RunRequest, plan
from bench.tune.selection import RULE, Trial, select, validation_values
from bench.tune.space import SearchSpace
from bench.tune.study import study_name, write_study


@dataclass
class TuneRequest:
    run: RunRequest  # suite, methods, the trials' seed (one), profile, --set, executor, output
    space: SearchSpace
    trials: int
    sampler_seed: int = 0


@dataclass
class TuneResult:
    path: Path | None  # the tuned-settings file, once written
    selected: dict[str, Trial]  # method -> its selected trial (methods whose every trial finished)
    pending: dict[str, int]  # method -> trials not finished
    interrupted: bool = False
    failed: int = 0


def trial_request(request: TuneRequest) -> tuple[RunRequest, list[dict[str, Any]]]:
    """The run of every trial: the matrix once per trial, each with its drawn settings, at the shared settings."""
    if request.trials < 1:
        raise UsageError(f"--trials must be at least 1, got {request.trials}")
    own = {item.partition("=")[0].strip() for item in request.run.overrides}
    clash = sorted(own & {d.key for d in request.space.dimensions})
    if clash:
        raise UsageError(f"--set {', '.join(clash)}: tuned over by the search space; leave it out or take it out of "
                         "the space")
    drawn = request.space.draw(request.trials, request.sampler_seed)
    variants = [(f"trial {k}", as_overrides(settings)) for k, settings in enumerate(drawn)]
    return replace(request.run, tuned="off", variants=variants, skip_diverged=True), drawn


def checked(request: TuneRequest) -> tuple[Plan, list[dict[str, Any]]]:
    """The tuning run planned, with every rule checked before any cell (the run's own, one training seed, validation
    checks on), and the trials' settings."""
    run_request, drawn = trial_request(request)
    if len(run_request.seeds) != 1:
        raise UsageError(f"bench tune trains each trial at one seed (--seed), not {len(run_request.seeds)}")
    planned = plan(run_request)
    if any(not cell.cfg.eval.progress_samples for cell in planned.cells):
        raise UsageError("bench tune selects on the quick evaluations of validation tuples; "
                         "eval.progress_samples=0 turns them off")
    return planned, drawn


def trials_of(planned: Plan, drawn: list[dict[str, Any]]) -> dict[str, list[Trial]]:
    """Method -> its trials, each with its record's state: ok (with its validation metrics), failed, or pending."""
    from tasks import SUITES

    keys = [s.key for s in SUITES.get(planned.request.suite).headline_metrics()]
    out: dict[str, list[Trial]] = {}
    for cell in planned.cells:
        number = int(cell.label.split()[-1])
        state, record = cell.state()
        trial = Trial(number, drawn[number], cell.cfg.config_hash(), "pending",
                      cell.record.relative_to(planned.request.out).as_posix())
        if state == "done":
            trial.status = "ok"
            trial.validation, trial.oracle = validation_values(record, keys)
        elif state == "failed" and record is not None and cell.made_it(record) and record.status == "failed":
            trial.status, trial.reason = "failed", record.reason
        out.setdefault(cell.cfg.method, []).append(trial)
    return out


def summary(request: TuneRequest, planned: Plan, trials: dict[str, list[Trial]], specs) -> dict[str, Any]:
    """The tuned-settings file's content."""
    methods = {}
    for method, found in trials.items():
        chosen = select(found, specs)
        methods[method] = {
            "complete": chosen is not None,
            "settings": dict(chosen.settings) if chosen else None,
            "selected_trial": chosen.number if chosen else None,
            "trials": [{"number": t.number, "settings": t.settings, "config_hash": t.config_hash,
                        "status": t.status, "record": t.record, "score": t.score, "reason": t.reason,
                        "validation": t.validation, "oracle": t.oracle} for t in found]}
    run = planned.request
    return {"suite": run.suite, "profile": run.profile, "command": run.command,
            "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "space": request.space.as_dict(), "trials": request.trials,
            "sampler": {"name": "optuna.samplers.RandomSampler", "seed": request.sampler_seed},
            "seed": run.seeds[0], "overrides": list(run.overrides),
            "selection": {"rule": RULE, "metrics": [s.key for s in specs]},
            "methods": methods}


def record_tuning(request: TuneRequest, planned: Plan | None = None, drawn: list[dict[str, Any]] | None = None
                  ) -> TuneResult:
    """Read the trials' records (this code's), select per method, and write the tuned file and the studies."""
    from tasks import SUITES

    if planned is None or drawn is None:
        planned, drawn = checked(request)
    run_request = planned.request
    specs = SUITES.get(run_request.suite).headline_metrics()
    trials = trials_of(planned, drawn)
    content = summary(request, planned, trials, specs)
    folder = tuning_dir(run_request.out, run_request.suite, run_request.profile)
    for method, found in trials.items():
        if content["methods"][method]["complete"]:
            write_study(folder / "optuna.db", study_name(run_request.suite, run_request.profile, method), found,
                        request.space)
    path = tuned_path(run_request.out, run_request.suite, run_request.profile)
    write_tuned(path, content)
    selected = {m: next(t for t in found if t.number == content["methods"][m]["selected_trial"])
                for m, found in trials.items() if content["methods"][m]["complete"]}
    pending = {m: sum(t.status == "pending" for t in found) for m, found in trials.items()
               if not content["methods"][m]["complete"]}
    failed = sum(t.status == "failed" for found in trials.values() for t in found)
    return TuneResult(path, selected, pending, failed=failed)


def tune(request: TuneRequest) -> TuneResult:
    """Check every rule, run every trial not yet done (resuming what a kill left), then select and write."""
    from bench.run.runner import run

    planned, drawn = checked(request)
    result = run(planned.request)
    if result.interrupted:
        print("bench: tuning interrupted; rerun the same command to resume", file=sys.stderr)
        return TuneResult(None, {}, {}, interrupted=True)
    return record_tuning(request, planned, drawn)
