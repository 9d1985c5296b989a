"""Command line: `python -m bench {run,tune,list,report,perf}` (also installed as `bench`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from base.registry import UnknownNameError
from bench.core.errors import ConfigError, UsageError

EXAMPLES = """examples:
  python -m bench run --methods all --suite gaussian_mixture
  python -m bench run --methods muni,mopoe --suite gaussian_mixture --seeds 0,1,2 --set train.steps=2000
  python -m bench run --methods muni --suite gaussian_mixture --set muni.route_mode=exact \\
      --set flow.encoder_grad_scale=0.03
  python -m bench tune --methods all --suite gaussian_mixture
  python -m bench report --suite gaussian_mixture
"""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def comma_list(text: str, flag: str) -> list[str]:
    """The items of a comma-separated option; an empty item ('a,,b', 'a,') is a mistake, not something to drop."""
    if not text.strip():
        return []
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise UsageError(f"{flag} '{text}' has an empty item; separate the items by single commas")
    return items


def parse_seeds(text: str) -> list[int]:
    """--seeds as integers; their range, emptiness and repeats are the plan's rules (bench/run/plan.py)."""
    try:
        return [int(s) for s in comma_list(text, "--seeds")]
    except ValueError:
        raise UsageError(f"--seeds expects comma-separated integers such as 0,1,2, got '{text}'") from None


def method_names(text: str) -> list[str] | str:
    """--methods as "all" or names; whether they exist and train on the suite is the plan's rule."""
    return "all" if text.strip() == "all" else comma_list(text, "--methods")


def directory(text: str) -> Path:
    """argparse type for directories: an empty string is a mistake, not the current directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a directory")
    return Path(text)


def whole_number(minimum: int, meaning: str):
    """argparse type: a whole number of at least `minimum`; `meaning` says what is expected when it is not."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expects a whole number, got '{text}'") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {meaning}, got {value}")
        return value
    return parse


positive = whole_number(1, "at least 1")
not_negative = whole_number(0, "0 (auto) or a positive number")
seed_number = whole_number(0, "0 or more")


def existing_directory(path: Path, flag: str) -> None:
    if not path.exists():
        raise FileNotFoundError(f"{flag} {path} does not exist")
    if not path.is_dir():
        raise UsageError(f"{flag} {path} is not a directory")


def cell_options(parser: argparse.ArgumentParser) -> None:
    """The options of commands that train cells (run, tune)."""
    parser.add_argument("--methods", default="all", help="'all' or comma-separated method names (see bench list)")
    parser.add_argument("--suite", default="gaussian_mixture", help="suite name (default: gaussian_mixture)")
    parser.add_argument("--profile", default="cpu", help="smoke | cpu | cpu_wide | cpu_long | paper (default: cpu, "
                        "sized for a 2-core machine); profiles live in bench/profiles/*.yaml")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="where to train (default: auto = cuda if available)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting, e.g. train.steps=2000, flow.encoder_grad_scale=0.03, "
                        "data.d_priv=8, or a method option such as muni.route_mode=exact; repeatable")
    parser.add_argument("--out", type=directory, default=Path("results"),
                        help="where records go (default: results/); checkpoints and cell locks go to <out>/checkpoints")
    parser.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, "
                        "else sqlite:///<out>/mlflow.db); checked before any cell starts")
    parser.add_argument("--require-tracking", action="store_true", help="stop before training when the tracking "
                        "store cannot be used (default: go on untracked, and every record says so)")
    parser.add_argument("--yes", action="store_true", help="confirm a budget of more than a week of training per cell "
                        "(refused without it)")
    parser.add_argument("--workers", type=not_negative, default=0, help="cells trained side by side, each in its own "
                        "process (default: 0 = auto, one single-threaded cell per CPU core on cpu, one at a time on "
                        "cuda); with --executor ray, at most this many cells at once (0: as many as the cluster fits)")
    parser.add_argument("--executor", default="local", choices=["local", "ray"], help="where cells run: local = "
                        "processes on this machine (default); ray = one Ray task per cell on a Ray cluster, whose "
                        "records, samples and final checkpoints come back to --out (pip install -e '.[ray]')")
    parser.add_argument("--ray-address", default=None, metavar="ADDR", help="with --executor ray: the cluster to "
                        "join, e.g. HEAD:6379 from 'ray start --head' (default: start a Ray instance on 127.0.0.1)")
    parser.add_argument("--cell-threads", type=positive, default=None, metavar="N", help="with --executor ray: CPU "
                        "threads each cell trains with, and the CPUs Ray reserves for it (default: 1; a cuda cell "
                        "also reserves one GPU)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> Parser:
    parser = Parser(prog="bench", description="muni-bench: train and evaluate multimodal shared-latent "
                    "generative models on one backbone, and turn the result records into the paper's tables.",
                    epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="{run,tune,list,report,perf}", parser_class=Parser)

    run = sub.add_parser("run", help="train and evaluate the matrix suite × methods × seeds",
                         description="Train every method on a suite, evaluate its task matrix, log each cell to "
                         "MLflow and write one result record per cell. A cell whose record was made with the same "
                         "resolved config by the same code is skipped, so rerunning an interrupted command resumes "
                         "it (from the cell's last checkpoint, bit for bit); a record made by other code (a changed "
                         "method, backbone, suite, metric or training loop) is trained again. Ctrl-C stops cleanly "
                         "(exit status 130).",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    cell_options(run)
    run.add_argument("--seeds", default="0", help="comma-separated training seeds (default: 0)")
    run.add_argument("--force", action="store_true", help="train cells again even if their record is up to date")
    run.add_argument("--tuned", default="on", metavar="on|off|FILE", help="on (default): each method trains at "
                     "its tuned settings, from <out>/<suite>/<profile>/tuning/tuned.yaml (written by bench tune), "
                     "where it has them, and the run says which; off: every method at the profile's shared "
                     "settings; FILE: the tuned settings in that file. A --set of the same key wins")
    run.add_argument("--record-interrupted", action="store_true", help="on Ctrl-C, write a record with status "
                     "'interrupted' for each running cell (default: write nothing; a rerun resumes it)")

    tune = sub.add_parser("tune", help="equal-effort tuning: the same search space and trials for every method",
                          description="Tune every method alike: the same search space and the same number of "
                          "trials, drawn i.i.d. by Optuna's random sampler from --sampler-seed (trial k has the same "
                          "settings for every method). Each trial is an ordinary cell (a record under --out, run "
                          "here or on Ray; rerunning the command resumes it). Each method's trial with the best "
                          "mean rank over the suite's headline metrics on validation tuples (never test tuples) is "
                          "selected; the selected settings go to <out>/<suite>/<profile>/tuning/tuned.yaml with the "
                          "trials that chose them, which bench run then uses, and one Optuna study per method to "
                          "<out>/<suite>/<profile>/tuning/optuna.db (optuna-dashboard sqlite:///PATH shows it).",
                          epilog="examples:\n  python -m bench tune --methods all --suite gaussian_mixture\n"
                          "  python -m bench tune --methods muni,mopoe --trials 10 --space space.yaml\n\n"
                          "A space file maps settings to ranges, the same for every method:\n"
                          "  train.lr: {low: 1.0e-4, high: 3.0e-3, log: true}\n"
                          "  train.batch_size: {choices: [128, 256, 512]}\n",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    cell_options(tune)
    tune.add_argument("--trials", type=positive, default=6, help="trials per method (default: 6)")
    tune.add_argument("--space", type=Path, default=None, metavar="FILE", help="a YAML search space (default: "
                      "train.lr log-uniform over [1e-4, 3e-3])")
    tune.add_argument("--seed", type=seed_number, default=0, help="the training seed of every trial (default: 0)")
    tune.add_argument("--sampler-seed", type=seed_number, default=0, help="the seed of the trials' draws "
                      "(default: 0)")

    lst = sub.add_parser("list", help="methods, suites, metrics and profiles",
                         description="List the registered methods (with the directions they support), suites "
                         "(with modalities and tasks), metrics (with direction) and profiles.")
    lst.add_argument("what", nargs="?", default="all", choices=["all", "methods", "suites", "metrics", "profiles"],
                     help="what to list (default: all)")

    rep = sub.add_parser("report", help="tables (md, tex, csv) and figures from result records",
                         description="Read the records under --results and write <suite>.md/.tex/.csv tables "
                         "and PNG figures to --out. Nothing in the reports is typed by hand.")
    rep.add_argument("--suite", default=None, help="suite name (default: gaussian_mixture)")
    rep.add_argument("--all", action="store_true",
                     help="every suite with records (each at its default profile), and the page across suites, "
                     "<out>/index.md")
    rep.add_argument("--results", type=directory, default=Path("results"),
                     help="where records are (default: results/)")
    rep.add_argument("--out", type=directory, default=Path("reports"), help="where reports go (default: reports/)")
    rep.add_argument("--profile", default=None, help="only records of this profile (default: cpu when it "
                     "has records, else the profile with the most); reports of profiles other than cpu go to "
                     "<out>/<profile>/")
    rep.add_argument("--include-stale", action="store_true",
                     help="put records made by other code than this checkout's into the tables, marked ‡ "
                     "(default: leave them out, count them in one line and list them by commit at the end)")
    rep.add_argument("--readme", type=Path, default=None, metavar="FILE",
                     help="also make again the generated blocks of this markdown file and of the pages under "
                     "docs/ beside it (README.md: what the main job found and took, job times, throughput) from "
                     "the records under --results")

    perf = sub.add_parser("perf", help="measure training throughput against this machine's matmul peak",
                          description="Measure, for every method at a profile's sizes: training samples/s "
                          "(median of repeats after warm-up), counted FLOPs per step, achieved GFLOP/s and its "
                          "ratio to the matmul peak measured in the same run, evaluation time per task and "
                          "peak memory; and the ceiling these sizes allow: one of the backbone's velocity networks "
                          "alone, forward and backward on a fifth of a batch, one batch and four; and same-shape "
                          "decoders called one after another against one stacked call. Writes <out>/perf.md (or "
                          "perf-<variant>.md for another device, thread count or --set train.precision) and a JSON "
                          "record.")
    perf.add_argument("--methods", default="all", help="'all' or comma-separated method names")
    perf.add_argument("--suite", default="gaussian_mixture", help="suite name (default: gaussian_mixture)")
    perf.add_argument("--profile", default="cpu", help="whose sizes to measure (default: cpu)")
    perf.add_argument("--repeats", type=positive, default=5, help="timed repeats per method (default: 5)")
    perf.add_argument("--steps", type=positive, default=10, help="training steps per repeat (default: 10)")
    perf.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                      help="where to measure (default: auto = cuda if available)")
    perf.add_argument("--threads", type=positive, default=None, help="CPU threads per measured method (default: "
                      "what one cell of `bench run` gets by default, the cores divided by the cells side by side)")
    perf.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="override a setting of the measured profile (as in bench run)")
    perf.add_argument("--out", type=directory, default=Path("reports"),
                      help="where perf.md goes (default: reports/)")
    perf.add_argument("--results", type=directory, default=Path("results"),
                      help="where the perf record goes (default: results/; the file is "
                      "results/perf/<suite>-<profile>-<device>[-<variant>].json)")
    return parser


def request_from(args):
    """The RunRequest that `bench run`'s (or `bench tune`'s) arguments ask for (the plan checks it:
    bench/run/plan.py)."""
    from bench.core.records import command_line
    from bench.run.plan import RunRequest

    if args.executor != "ray" and args.cell_threads is not None:
        raise UsageError("--cell-threads is an option of --executor ray; add --executor ray or leave it out")
    tuning = args.command == "tune"
    return RunRequest(suite=args.suite, methods=method_names(args.methods),
                      seeds=[args.seed] if tuning else parse_seeds(args.seeds),
                      profile=args.profile, overrides=args.overrides, device=args.device, out=args.out,
                      tracking_uri=args.tracking_uri, force=getattr(args, "force", False),
                      command=command_line(getattr(args, "argv", [])), show_progress=not args.quiet,
                      workers=args.workers, record_interrupted=getattr(args, "record_interrupted", False),
                      require_tracking=args.require_tracking, yes=args.yes, executor=args.executor,
                      ray_address=args.ray_address, cell_threads=args.cell_threads or 1,
                      tuned="off" if tuning else args.tuned)


def check_names(args) -> None:
    """A misspelt method, suite or profile, refused before torch is imported (bench/core/names.py)."""
    from bench.core.names import check_names as check

    check(method_names(args.methods), args.suite, args.profile, args.overrides)


def cmd_run(args) -> int:
    check_names(args)
    from bench.run.runner import TrackingUnavailable, run

    request = request_from(args)
    try:
        result = run(request)  # plans first: every rule is checked before anything is written or trained
    except TrackingUnavailable as err:
        raise UsageError(str(err)) from None
    except KeyboardInterrupt:  # between cells, before any started
        print("bench: interrupted before any cell started; nothing was recorded", file=sys.stderr)
        return 130
    return summarize_run(result, args)


def cmd_tune(args) -> int:
    check_names(args)
    from bench.tune.space import load_space
    from bench.tune.tune import TuneRequest, tune

    request = TuneRequest(request_from(args), load_space(args.space), args.trials, args.sampler_seed)
    try:
        result = tune(request)  # every rule is checked before anything is written or trained
    except KeyboardInterrupt:
        print("bench: interrupted before any trial started; nothing was recorded", file=sys.stderr)
        return 130
    if result.interrupted:
        return 130
    for method, trial in result.selected.items():
        shown = " ".join(f"{k}={v}" for k, v in trial.settings.items())
        print(f"bench: {method}: trial {trial.number} selected ({shown}; mean validation rank {trial.score:.2f})")
    for method, left in result.pending.items():
        print(f"bench: {method}: {left} trials not finished; rerun the same command to resume", file=sys.stderr)
    print(f"bench: wrote {result.path}; next, 'python -m bench run --suite {args.suite} --profile {args.profile}"
          f" --seeds 0,1,2,3,4' trains every tuned method at its selected settings")
    return 1 if result.pending else 0


def summarize_run(result, args) -> int:
    ran, skipped, busy = result.count("ok"), result.count("skipped"), result.count("busy")
    failed = [o for o in result.outcomes if o.status == "failed"]
    cells = len(result.outcomes)
    print(f"bench: {ran} cells ran, {skipped} already done, {len(failed)} failed"
          + (f", {busy} being trained by another run" if busy else "") + f"; records under {args.out}")
    for o in failed:
        print(f"bench: FAILED {o.method} seed {o.seed}: {o.reason} ({o.record})", file=sys.stderr)
    untracked = sum(o.tracking_error is not None for o in result.outcomes)
    if result.tracking is not None and result.tracking.error:
        print(f"bench: this run was not tracked: {result.tracking.error}", file=sys.stderr)
    elif untracked:
        print(f"bench: tracking failed for {untracked} cells; their records say why", file=sys.stderr)
    if result.interrupted:
        stopped = result.count("interrupted")
        print(f"bench: interrupted: {ran} cells finished, {stopped} stopped (checkpoints kept"
              f"{', recorded as interrupted' if args.record_interrupted else ', nothing recorded'}), "
              f"{result.count('not_started')} not started; rerun the same command to resume", file=sys.stderr)
        return 130
    if skipped == cells:
        print(f"bench: every cell is already done: its record under {args.out} was made with this config by this "
              "code. To train again, add --force, or write to another directory with --out DIR.")
    if busy:
        print("bench: rerun the same command once the other run has finished to pick up its cells")
    if ran + skipped:
        print(f"bench: next, 'python -m bench report --suite {args.suite} --results {args.out}'")
    return 1 if failed else 0


def cmd_list(args) -> int:
    from bench.listing import cached_listing

    print(cached_listing(args.what))
    return 0


def cmd_report(args) -> int:
    from bench.core.names import check_names as check

    if args.all and (args.suite or args.profile):
        raise UsageError("--all writes every suite at its default profile; leave out --suite and --profile")
    check(None, args.suite, args.profile)
    from bench.report.page import write_report
    from tasks import SUITES

    suites = SUITES.names() if args.all else [args.suite or "gaussian_mixture"]
    for suite in suites:
        SUITES.get(suite)
    existing_directory(args.results, "--results")
    from bench.run.plan import writable_directory

    writable_directory(args.out, "--out")
    if args.readme is not None and not args.readme.is_file():
        raise UsageError(f"--readme {args.readme}: no such file")
    for suite in suites:
        if args.all and not (args.results / suite).is_dir():
            print(f"bench: no records of {suite} under {args.results}/; skipped")
            continue
        for path in write_report(suite, args.results, args.out, args.profile, args.include_stale):
            print(f"bench: wrote {path}")
    if args.all:
        from bench.report.index import write_index

        print(f"bench: wrote {write_index(args.results, args.out)}")
    if args.readme is not None:
        from bench.report.readme import refresh

        changed = refresh(args.readme, args.results)
        print(f"bench: refreshed the generated blocks of {', '.join(map(str, changed))}" if changed else
              f"bench: already current: the generated blocks of {args.readme} and its docs/ pages")
    return 0


def cmd_perf(args) -> int:
    check_names(args)
    from bench.core.config import resolve, validate_overrides
    from bench.perf.measure import run_perf
    from bench.run.plan import check_profile, methods_for, pick_device, writable_directory
    from tasks import SUITES

    SUITES.get(args.suite)
    check_profile(args.profile)
    notes: list[str] = []
    methods = methods_for(args.suite, method_names(args.methods), notes)
    validate_overrides(args.overrides, args.suite, methods)
    for name in methods:  # every measured config resolves, before any process starts
        resolve(args.suite, name, 0, args.profile, list(args.overrides))
    try:
        pick_device(args.device)
    except ValueError as err:
        raise UsageError(str(err)) from None
    writable_directory(args.out, "--out")
    writable_directory(args.results / "perf", "--results")
    for text in notes:
        print(f"bench: note: {text}", file=sys.stderr)

    for path in run_perf(args, methods):
        print(f"bench: wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        args.argv = argv
        if args.command is None:
            parser.print_help()
            return 2
        handler = {"run": cmd_run, "tune": cmd_tune, "list": cmd_list, "report": cmd_report,
                   "perf": cmd_perf}[args.command]
        return handler(args)
    except (UsageError, UnknownNameError, ConfigError, FileNotFoundError) as err:
        print(f"bench: error: {err}", file=sys.stderr)
        return 2
