"""Generated blocks of README.md and of the guide's pages under docs/ beside it: the measured sentences (what the
main job found and took, whether its cells settled) are made from the committed records by
`python -m bench report --readme README.md`, between markers that name their block, so no measured number in prose
is typed by hand. tests/bench/report/test_readme.py fails when a block is out of date with the records."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from bench.core.records import Record, read_records
from bench.report.budget import busy_minutes, converged

BEGIN = "<!-- generated: {name} (python -m bench report --readme README.md); edits here are overwritten -->"
END = "<!-- end generated: {name} -->"
MAIN_JOB = ("gaussian_mixture", "cpu")  # the suite and profile `python -m bench run --methods all` uses


READ: dict[tuple[Path, str], list[Record]] = {}  # records read once per refresh (refreshed() clears it)


def plain_records(results: Path, suite: str, profile: str) -> list[Record]:
    """The records of a profile's plain rows (no `--set` but the method's tuned settings), made by this checkout's
    code or not (marked)."""
    from bench.core.tuned import read_tuned, tuned_path
    from bench.report.rows import mark_stale, tuned_view

    key = (Path(results), suite)
    if key not in READ:
        READ[key] = read_records(results, suite, warn=lambda _: None)
        mark_stale(READ[key], suite)
    records = tuned_view([r for r in READ[key] if r.profile == profile],
                         read_tuned(tuned_path(Path(results), suite, profile)))
    return [r for r in records if not r.overrides and r.status == "ok"]


def main_job(results: Path) -> str:
    """What the committed main job took and whether its cells settled, from its records."""
    suite, profile = MAIN_JOB
    records = plain_records(results, suite, profile)
    if not records:
        return f"There are no committed records of the main job (`{suite}`, profile `{profile}`) yet."
    seeds = sorted({r.seed for r in records})
    methods = sorted({r.method for r in records})
    whole = busy_minutes(records)
    threads = sorted({r.device.get("threads") for r in records} - {None})
    states = [converged(r) for r in records]
    finished = max(r.finished_at for r in records)[:10]
    settled = (f"{sum(s is True for s in states)} of {len(states)} cells settled on their held-out curves"
               if None not in states else
               f"{sum(s is None for s in states)} of {len(states)} cells predate held-out convergence curves")
    stale = sum(bool(r.changed) for r in records)
    text = (f"The committed main job ({len(methods)} methods × {len(seeds)} seed{'s' if len(seeds) > 1 else ''} "
            f"of `{suite}` at profile `{profile}`, cells side by side with {'/'.join(map(str, threads)) or '?'} "
            f"thread each) took {whole:.0f} min wall clock for its {len(records)} cells (finished {finished}); "
            f"{settled}.")
    if stale:
        text += (f" {stale} of its {len(records)} records were made by other code than this checkout's, so a run "
                 "of the main job trains them again (the reports mark them ‡).")
    return text


def main_job_answer(results: Path) -> str:
    """The first screen of the main job's report in three lines: what the table compares, the rows at rank 1 in each
    column, and the paper's findings with how many hold at every rung of the budget."""
    from bench.core.tuned import read_tuned, tuned_path
    from bench.report.index import tally
    from bench.report.model import build
    from bench.report.render.markdown import headline_text
    from bench.report.rows import mark_stale

    suite, profile = MAIN_JOB
    every = read_records(results, suite, warn=lambda _: None)
    records = [r for r in every if r.profile == profile]
    if not records:
        return f"There is no report of the main job (`{suite}`, profile `{profile}`) yet."
    mark_stale(every, suite)
    found = build(suite, records, every, profile, False, read_tuned(tuned_path(Path(results), suite, profile)))
    best = "; ".join(f"{spec.label}: " + ", ".join(line.label for line in found.table.methods
                                                   if line.values[spec.key].best) for spec in found.table.specs)
    stable = sum(c.stability.stable is True for c in found.findings)
    moving = sum(c.stability.stable is False for c in found.findings)
    rungs = (f"{stable} budget-stable, {moving} budget-dependent" if stable + moving
             else "each decided at one budget only")
    return "\n".join([f"{headline_text(found.headline)} · **settings** {found.tuning}", "",
                       f"Rank 1 per column (no other row beats it; ties included): {best}.", "",
                       f"The paper's findings: {tally([c.finding for c in found.findings])}; {rungs} "
                       f"([reports/{suite}.md](reports/{suite}.md))."])


def main_job_verdict(results: Path) -> str:
    """Whether the main job's cells settled, how far the others still moved, and the findings' tally."""
    from bench.report.budget import checks_of, held_out, median_tau
    from bench.report.index import tally
    from bench.report.rows import collect_rows
    from tasks import SUITES

    suite, profile = MAIN_JOB
    records = [r for r in plain_records(results, suite, profile) if not r.changed]
    if not records:
        return "No record of the main job was made by this checkout's code yet: run it to see its verdict."
    moving: dict[str, float] = {}
    for r in records:
        reading = held_out(r) or {}
        for key in reading.get("unsettled", []):
            moving[r.method] = max(moving.get(r.method, 0.0), reading["change"][key])
    states = [converged(r) for r in records]
    settled = sum(s is True for s in states)
    findings = SUITES.get(suite).findings(collect_rows(records))
    by_method: dict[str, list[Record]] = {}
    for r in records:
        by_method.setdefault(r.method, []).append(r)
    tau = median_tau({m: checks_of(rs) for m, rs in by_method.items()}, SUITES.get(suite).table)
    text = f"At the main job's budget {settled} of {len(states)} cells settled on their held-out curves"
    if moving:
        text += ("; per method, the headline metric whose distance to its ideal changed most over the last quarter "
                 "of training in its unsettled cells changed by "
                 + ", ".join(f"{share:.0%} ({m})" for m, share in sorted(moving.items(), key=lambda x: -x[1])))
    if tau is not None:
        text += (f". The methods' ranking between three quarters of training and the end (median over metrics of "
                 f"Kendall's τ) was {tau:.2f} (1: unchanged)")
    return text + f". The paper's findings on it: {tally(findings)} (`reports/{suite}.md`)."


def equal_flops(results: Path) -> str:
    """The equal-FLOP command at the main job's own compute: the mean over methods of a cell's counted FLOPs."""
    suite, profile = MAIN_JOB
    by_method: dict[str, list[float]] = {}
    for r in plain_records(results, suite, profile):
        flops = r.budget.get("flops")
        if flops:
            by_method.setdefault(r.method, []).append(float(flops))
    if not by_method:
        return "(no records of the main job carry counted FLOPs yet)"
    amount = sum(sum(v) / len(v) for v in by_method.values()) / len(by_method)
    return ("```bash\n"
            f"python -m bench run --methods all --set train.budget=flops --set train.budget_amount={amount:.3g}\n"
            "```\n\n"
            f"`{amount:.3g}` is the mean FLOPs counted in one cell of the committed main job over its "
            f"{len(by_method)} methods, so this job costs what the equal-steps job costs.")


JOB_SUITES = ("gaussian_mixture", "image_text_audio", "polymnist_quadrant_labels")  # at the default profile


def minutes_range(values: list[float]) -> str:
    values = [v / 60 for v in values if v is not None]
    if not values:
        return "n/a"
    low, high = min(values), max(values)
    return f"{low:.1f}" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}-{high:.1f}"


def job_times(results: Path) -> str:
    """Per suite, what `bench run --methods all` at the default profile took, from its committed records: the job's
    wall clock per seed (cells side by side), and per cell the training, evaluation and total minutes."""
    lines = []
    for suite in JOB_SUITES:
        records = plain_records(results, suite, MAIN_JOB[1])
        if not records:
            lines.append(f"- `{suite}`: no committed records at profile `{MAIN_JOB[1]}`.")
            continue
        records = [r for r in records if not r.changed] or records  # this code's run, when there is one
        seeds = sorted({r.seed for r in records})
        whole = busy_minutes(records)
        walls = [r.wall_time for r in records]
        spent = {part: minutes_range([w.get(part) for w in walls]) for part in ("total", "train", "eval")}
        finished = max(r.finished_at for r in records)[:10]
        stale = sum(bool(r.changed) for r in records)
        lines.append(
            f"- `{suite}` ({len({r.method for r in records})} methods, {len(seeds)} seed"
            f"{'s' if len(seeds) > 1 else ''}, finished {finished}): "
            + ("n/a" if whole is None else f"{whole / len(seeds):.0f} min wall clock per seed")
            + f"; per cell {spent['total']} min, of which training {spent['train']} and evaluation {spent['eval']}"
            + (f" ({stale} of {len(records)} records made by other code than this checkout's)" if stale else "")
            + ".")
    return "\n".join(lines)


def throughput(results: Path) -> str:
    """What `bench perf` measured (results/perf/*.json): each method's training throughput against the matmul
    peak measured in the same run, per precision, and the decoder-stacking comparison."""
    import json

    files = sorted((results / "perf").glob(f"{MAIN_JOB[0]}-{MAIN_JOB[1]}-cpu*.json"))
    if not files:
        return "(no committed `bench perf` measurement yet: run `python -m bench perf`)"
    lines = []
    for path in files:
        perf = json.loads(path.read_text())
        ratios = sorted((m["ratio_to_peak"], m["method"]) for m in perf["methods"] if m.get("ratio_to_peak"))
        rates = [m["samples_per_second"] for m in perf["methods"] if m.get("samples_per_second")]
        line = (f"- {perf['precision']}, profile `{perf['profile']}` ({perf['machine']}; {perf['date'][:10]}, "
                f"`{perf['command']}`): matmul peak median {perf['peak_gflops']:.0f} GFLOP/s; ")
        if ratios:
            line += (f"methods at {ratios[0][0]:.0%} ({ratios[0][1]}) to {ratios[-1][0]:.0%} ({ratios[-1][1]}) of "
                     f"it, {min(rates) / 1e3:.1f}k-{max(rates) / 1e3:.1f}k samples/s")
        else:
            line += "per-method times in the report"
        bf16 = [m["bf16_peak_gflops"] for m in perf["methods"] if m.get("bf16_peak_gflops")]
        if perf["precision"] != "fp32" and bf16:
            line += f" (ratios to the fp32 peak; the bf16 matmul peak was {sorted(bf16)[len(bf16) // 2]:.0f} GFLOP/s)"
        stacking = perf.get("stacking") or []
        if stacking:
            line += ("; three decoders stacked into one call against separate calls: "
                     + ", ".join(f"{s['speedup']:.2f}× at {s['rows']} rows" for s in stacking))
        lines.append(line + ".")
    return "\n".join(lines)


TEST_RUN = Path("results/tests.json")  # written by a full test run with MUNI_BENCH_TEST_RECORD set (conftest.py)
QUICK_TEST_RUN = Path("results/tests-not-slow.json")  # the same for a `-m "not slow"` run


def test_run(results: Path) -> str:
    """The last recorded full run of the test suite (counts, time, machine and date), and the last quick one."""
    import json

    path = results / TEST_RUN.name
    if not path.is_file():
        return "(no recorded test run: run the README's test command with MUNI_BENCH_TEST_RECORD=results/tests.json)"
    run = json.loads(path.read_text())
    counts = ", ".join(f"{n} {k}" for k, n in run["counts"].items() if n)
    text = (f"The last recorded full run ({run['date'][:10]}, {run['machine']}, `{run['command']}`): {counts} in "
            f"{run['seconds'] / 60:.1f} min.")
    quick = results / QUICK_TEST_RUN.name
    if quick.is_file():
        run = json.loads(quick.read_text())
        counts = ", ".join(f"{n} {k}" for k, n in run["counts"].items() if n)
        text += f" The last quick run (`{run['command']}`, {run['date'][:10]}): {counts} in {run['seconds']:.0f} s."
    return text


def tuning(results: Path) -> str:
    """What the committed tuning of the main job's suite and profile selected, from its tuned-settings file."""
    from bench.core.tuned import read_tuned, tuned_path

    suite, profile = MAIN_JOB
    tuned = read_tuned(tuned_path(results, suite, profile))
    if tuned is None:
        return (f"There is no committed tuning of `{suite}` at profile `{profile}` yet: every method trains at the "
                "profile's shared settings.")
    entries = tuned.methods()
    done = {m: tuned.settings(m) for m in entries if tuned.settings(m) is not None}
    space = "; ".join(f"{key} {'log-' if d.get('log') else ''}uniform over [{d['low']:g}, {d['high']:g}]"
                      if "low" in d else f"{key} from {d.get('choices')}" for key, d in tuned.data["space"].items())
    chosen = ", ".join(f"{m} " + " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in settings.values())
                       for m, settings in done.items())
    text = (f"The committed tuning of `{suite}` (profile `{profile}`) drew {tuned.data['trials']} trials of {space} "
            f"(seed {tuned.data['sampler']['seed']}), the same for every method, and selected on validation tuples: "
            f"{chosen or 'no method has finished its trials yet'}")
    unfinished = [m for m in entries if m not in done]
    return text + (f"; still tuning: {', '.join(unfinished)}" if unfinished else "") + "."


BLOCKS: dict[str, Callable[[Path], str]] = {"main-job": main_job, "main-job-answer": main_job_answer,
                                            "main-job-verdict": main_job_verdict,
                                            "tuning": tuning,
                                            "equal-flops": equal_flops, "job-times": job_times,
                                            "throughput": throughput, "test-run": test_run}


def block_pattern(name: str) -> re.Pattern:
    return re.compile(re.escape(BEGIN.format(name=name)) + r"\n(?:.*?\n)?" + re.escape(END.format(name=name)), re.S)


def refreshed(text: str, results: Path) -> str:
    """The text with every generated block it holds made again from the records under results/."""
    READ.clear()
    for name, make in BLOCKS.items():
        pattern = block_pattern(name)
        if pattern.search(text):
            body = f"{BEGIN.format(name=name)}\n{make(results)}\n{END.format(name=name)}"
            text = pattern.sub(lambda _, body=body: body, text)
    READ.clear()
    return text


def guide_pages(readme: Path) -> list[Path]:
    """README and the pages of the guide it links to (docs/*.md beside it): where generated blocks live."""
    return [readme, *sorted((readme.parent / "docs").glob("*.md"))]


def refresh(readme: Path, results: Path) -> list[Path]:
    """Rewrite the generated blocks of README and of the guide's pages; returns the files that changed."""
    changed = []
    for path in guide_pages(readme):
        text = path.read_text()
        new = refreshed(text, results)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed
