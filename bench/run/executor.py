"""What every executor shares, in a module both the runner and the executors import (so neither imports the
other): the Executor protocol, the callbacks it is given, and the progress display. An executor runs the cells the
runner hands it — each through bench.run.job.run_cell, where it may be (here: bench/run/executor_local.py; on a Ray
cluster: bench/run/executor_ray.py) — and reports each outcome as it comes; the runner plans, skips finished cells,
sets up tracking (through `start`) and collects the outcomes, whichever executor runs them."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from tqdm.auto import tqdm

from bench.run.job import Cell, CellOutcome, JobSettings

Start = Callable[[Path | None], JobSettings]  # called once, when the executor is ready: tracking and progress
Report = Callable[[Cell, CellOutcome], None]  # called once per cell that has an outcome


class Executor(Protocol):
    def run(self, cells: list[Cell], start: Start, progress: Progress, report: Report) -> bool:
        """Run the cells, calling `start` (with where MLflow artifacts go, or None) before the first and `report`
        for each outcome; returns whether Ctrl-C stopped the run."""
        ...


class Progress:
    """The overall bar counts training steps of every pending cell, so it shows an ETA from the first steps on;
    one bar per running cell below it (steps, loss, ETA)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.overall: tqdm | None = None
        self.bars: dict[str, tqdm] = {}
        self.seen: dict[str, int] = {}
        self.steps: dict[str, int] = {}
        self.ended: Counter[str] = Counter()  # outcome status -> cells that ended so
        self.running: set[str] = set()
        self.finished: set[str] = set()
        self.desc = ""
        self.labels: dict[str, str] = {}  # cell key -> what sets it apart (a tuning trial)

    def write(self, text: str) -> None:
        tqdm.write(text)

    def start(self, cells: list[Cell], desc: str) -> None:
        self.steps = {cell.key: cell.cfg.train.steps for cell in cells}
        self.labels = {cell.key: cell.label for cell in cells if cell.label}
        self.desc = desc
        self.overall = tqdm(total=sum(self.steps.values()), desc=self.label(), unit="step", position=0,
                            disable=not self.enabled, dynamic_ncols=True, mininterval=1.0,
                            smoothing=0)  # the rate over the whole run: evaluations between cells pause the steps

    def label(self) -> str:
        """The run's description, the cells finished of all, those running, and those that ended otherwise (failed,
        interrupted, ...: each kind apart)."""
        done = self.ended["ok"] + self.ended["skipped"]
        others = "".join(f", {n} {status.replace('_', ' ')}" for status, n in self.ended.items()
                         if status not in ("ok", "skipped"))
        return f"{self.desc} {done}/{len(self.steps)} cells done, {len(self.running)} running{others}"

    def started(self, key: str) -> None:
        """A cell began (before its first step: loading data, building the method)."""
        self.running.add(key)
        if self.overall is not None:
            self.overall.set_description(self.label(), refresh=False)

    def step(self, key: str, step: int, terms: dict[str, float] | None, total: int) -> None:
        if self.overall is None or key in self.finished:  # a late report from a cell that has a result
            return
        if key not in self.running:
            self.started(key)
        if total != self.steps.get(key, total):  # a budget of samples, FLOPs or seconds sets the steps at the start
            self.overall.total += total - self.steps[key]
            self.steps[key] = total
        if key not in self.seen:  # a resumed cell starts at its checkpoint: those steps are not this run's work
            self.overall.total -= step
            self.seen[key] = step
        self.overall.update(step - self.seen[key])
        self.seen[key] = step
        if not self.enabled:
            return
        bar = self.bars.get(key)
        if bar is None:
            free = min(set(range(1, len(self.bars) + 2)) - {b.pos for b in self.bars.values()})
            bar = self.bars[key] = tqdm(total=total, initial=step, desc=key, unit="step", leave=False,
                                        position=free, dynamic_ncols=True, mininterval=1.0)
        bar.total = total
        bar.update(step - bar.n)
        if terms:
            bar.set_postfix(loss=f"{terms['loss']:.3f}", refresh=False)

    def finish(self, key: str, outcome: CellOutcome) -> None:
        if key in self.bars:
            self.bars.pop(key).close()
        if self.overall is not None:
            left = self.steps.get(key, 0) - self.seen.get(key, 0)
            if outcome.status != "ok" and left > 0:  # not trained to the end here: drop its steps from the ETA
                self.overall.total -= left
            self.ended[outcome.status] += 1
            self.running.discard(key)
            self.finished.add(key)
            self.overall.set_description(self.label(), refresh=False)
            self.overall.refresh()
        self.write(outcome_line(outcome, self.labels.get(key, "")))

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        if self.overall is not None:
            self.overall.close()


def outcome_line(outcome: CellOutcome, label: str = "") -> str:
    name = f"  {outcome.method} seed {outcome.seed}" + (f", {label}" if label else "")
    text = {"ok": f"ok -> {outcome.record}", "failed": f"FAILED: {outcome.reason}",
            "skipped": f"{outcome.reason or 'already done'} ({outcome.record})",
            "busy": f"not started here: {outcome.reason}",
            "interrupted": "interrupted; its last checkpoint is kept, rerun the command to resume",
            "not_started": "not started"}[outcome.status]
    lines = [f"{name}: {text}"]
    if outcome.tracking_error:
        lines.append(f"{name}: tracking failed, the cell is not in MLflow ({outcome.tracking_error})")
    lines += [f"{name}: note: {note}" for note in outcome.notes]
    return "\n".join(lines)
