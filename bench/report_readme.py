"""Generated blocks of README.md: the measured sentences (what the main job took, whether its cells settled) are
made from the committed records by `python -m bench report --readme README.md`, between markers that name their
block, so no measured number in prose is typed by hand. tests/bench/test_report_readme.py fails when a block is
out of date with the records."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.records import read_records
from bench.report_budget import busy_minutes, converged

BEGIN = "<!-- generated: {name} (python -m bench report --readme README.md); edits here are overwritten -->"
END = "<!-- end generated: {name} -->"
MAIN_JOB = ("gaussian_mixture", "cpu")  # the suite and profile `python -m bench run --methods all` uses


def plain_records(results: Path, suite: str, profile: str) -> list[dict[str, Any]]:
    """The records of a profile's plain rows (no `--set`), made by this checkout's code or not (marked)."""
    from bench.report import mark_stale

    records = [r for r in read_records(results, suite, warn=lambda _: None)
               if r["profile"] == profile and not r.get("overrides") and r.get("status") == "ok"]
    mark_stale(records, suite)
    return records


def main_job(results: Path) -> str:
    """What the committed main job took and whether its cells settled, from its records."""
    suite, profile = MAIN_JOB
    records = plain_records(results, suite, profile)
    if not records:
        return f"There are no committed records of the main job (`{suite}`, profile `{profile}`) yet."
    seeds = sorted({r["seed"] for r in records})
    methods = sorted({r["method"] for r in records})
    whole = busy_minutes(records)
    threads = sorted({(r.get("device") or {}).get("threads") for r in records} - {None})
    states = [converged(r) for r in records]
    finished = max(r["finished_at"] for r in records)[:10]
    settled = (f"{sum(s is True for s in states)} of {len(states)} cells settled on their held-out curves"
               if None not in states else
               f"{sum(s is None for s in states)} of {len(states)} cells predate held-out convergence curves")
    stale = sum(bool(r.get("_changed")) for r in records)
    text = (f"The committed main job ({len(methods)} methods × {len(seeds)} seed{'s' if len(seeds) > 1 else ''} "
            f"of `{suite}` at profile `{profile}`, cells side by side with {'/'.join(map(str, threads)) or '?'} "
            f"thread each) took {whole:.0f} min wall clock for its {len(records)} cells (finished {finished}); "
            f"{settled}.")
    if stale:
        text += (f" {stale} of its {len(records)} records were made by other code than this checkout's, so a run "
                 "of the main job trains them again (the reports mark them ‡).")
    return text


def main_job_verdict(results: Path) -> str:
    """Whether the main job's cells settled, how far the others still moved, and the findings' tally."""
    from bench.report import collect_rows
    from bench.report_budget import checks_of, held_out, median_tau
    from bench.report_index import tally
    from tasks import SUITES

    suite, profile = MAIN_JOB
    records = [r for r in plain_records(results, suite, profile) if not r.get("_changed")]
    if not records:
        return "No record of the main job was made by this checkout's code yet: run it to see its verdict."
    moving: dict[str, float] = {}
    for r in records:
        reading = held_out(r) or {}
        last = ((r.get("train") or {}).get("checks") or [{}])[-1].get("metrics", {})
        for key in reading.get("unsettled", []):
            if last.get(key):
                share = reading["moved"][key] / abs(last[key])
                moving[r["method"]] = max(moving.get(r["method"], 0.0), share)
    states = [converged(r) for r in records]
    settled = sum(s is True for s in states)
    findings = SUITES.get(suite).findings(collect_rows(records))
    by_method: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_method.setdefault(r["method"], []).append(r)
    tau = median_tau({m: checks_of(rs) for m, rs in by_method.items()}, SUITES.get(suite).table)
    text = f"At the main job's budget {settled} of {len(states)} cells settled on their held-out curves"
    if moving:
        text += ("; per method, the metric that moved most over the last quarter of training in its unsettled "
                 "cells moved by "
                 + ", ".join(f"{share:.0%} ({m})" for m, share in sorted(moving.items(), key=lambda x: -x[1]))
                 + " of its final value")
    if tau is not None:
        text += (f". The methods' ranking between three quarters of training and the end (median over metrics of "
                 f"Kendall's τ) was {tau:.2f} (1: unchanged)")
    return text + f". The paper's findings on it: {tally(findings)} (`reports/{suite}.md`)."


def equal_flops(results: Path) -> str:
    """The equal-FLOP command at the main job's own compute: the mean over methods of a cell's counted FLOPs."""
    suite, profile = MAIN_JOB
    by_method: dict[str, list[float]] = {}
    for r in plain_records(results, suite, profile):
        flops = (r.get("budget") or {}).get("flops")
        if flops:
            by_method.setdefault(r["method"], []).append(float(flops))
    if not by_method:
        return "(no records of the main job carry counted FLOPs yet)"
    amount = sum(sum(v) / len(v) for v in by_method.values()) / len(by_method)
    return ("```bash\n"
            f"python -m bench run --methods all --set train.budget=flops --set train.budget_amount={amount:.3g}\n"
            "```\n\n"
            f"`{amount:.3g}` is the mean FLOPs counted in one cell of the committed main job over its "
            f"{len(by_method)} methods, so this job costs what the equal-steps job costs.")


BLOCKS: dict[str, Callable[[Path], str]] = {"main-job": main_job, "main-job-verdict": main_job_verdict,
                                            "equal-flops": equal_flops}


def block_pattern(name: str) -> re.Pattern:
    return re.compile(re.escape(BEGIN.format(name=name)) + r"\n(?:.*?\n)?" + re.escape(END.format(name=name)), re.S)


def refreshed(text: str, results: Path) -> str:
    """The text with every generated block it holds made again from the records under results/."""
    for name, make in BLOCKS.items():
        pattern = block_pattern(name)
        if pattern.search(text):
            body = f"{BEGIN.format(name=name)}\n{make(results)}\n{END.format(name=name)}"
            text = pattern.sub(lambda _, body=body: body, text)
    return text


def refresh(path: Path, results: Path) -> bool:
    """Rewrite the generated blocks of the file at path; True when something changed."""
    text = path.read_text()
    new = refreshed(text, results)
    if new != text:
        path.write_text(new)
    return new != text
