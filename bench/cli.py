"""Command line: `python -m bench {run,list,report,perf}` (also installed as `bench`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.registry import UnknownNameError

EXAMPLES = """examples:
  python -m bench run --methods all --suite gaussian_mixture
  python -m bench run --methods muni,mopoe --suite gaussian_mixture --seeds 0,1,2 --set train.steps=2000
  python -m bench run --methods muni --suite gaussian_mixture --set muni.route_mode=exact \
      --set flow.encoder_grad_scale=0.03
  python -m bench report --suite gaussian_mixture
"""


class UsageError(Exception):
    """A mistake in the command line: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in comma_list(text)]
    except ValueError:
        raise UsageError(f"--seeds expects comma-separated integers such as 0,1,2, got '{text}'") from None
    if not seeds:
        raise UsageError("--seeds is empty; give at least one seed, e.g. --seeds 0")
    return seeds


def build_parser() -> Parser:
    parser = Parser(prog="bench", description="muni-bench: train and evaluate multimodal shared-latent "
                    "generative models on one backbone, and turn the result records into the paper's tables.",
                    epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="{run,list,report,perf}", parser_class=Parser)

    run = sub.add_parser("run", help="train and evaluate the matrix suite × methods × seeds",
                         description="Train every method on a suite, evaluate its task matrix, log each cell to "
                         "MLflow and write one result record per cell. Finished cells with the same resolved "
                         "config are skipped, so rerunning an interrupted command resumes it.",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--methods", default="all", help="'all' or comma-separated method names (see bench list)")
    run.add_argument("--suite", default="gaussian_mixture", help="suite name (default: gaussian_mixture)")
    run.add_argument("--profile", default="cpu", help="smoke | cpu | paper (default: cpu, sized for a 2-core "
                     "machine); profiles live in bench/profiles/*.yaml")
    run.add_argument("--seeds", default="0", help="comma-separated training seeds (default: 0)")
    run.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                     help="where to train (default: auto = cuda if available)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a setting, e.g. train.steps=2000, flow.encoder_grad_scale=0.03, "
                     "data.d_priv=8, or a method option such as muni.route_mode=exact; repeatable")
    run.add_argument("--out", type=Path, default=Path("results"), help="where records go (default: results/)")
    run.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, "
                     "else sqlite:///<out>/mlflow.db)")
    run.add_argument("--force", action="store_true", help="rerun cells even if their record exists")
    run.add_argument("--workers", type=int, default=0, help="cells trained side by side, each in its own process "
                     "(default: 0 = auto, one single-threaded cell per CPU core on cpu, one at a time on cuda)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    lst = sub.add_parser("list", help="methods, suites, metrics and profiles",
                         description="List the registered methods (with the directions they support), suites "
                         "(with modalities and tasks), metrics (with direction) and profiles.")
    lst.add_argument("what", nargs="?", default="all", choices=["all", "methods", "suites", "metrics", "profiles"])

    rep = sub.add_parser("report", help="tables (md, tex, csv) and figures from result records",
                         description="Read the records under --results and write <suite>.md/.tex/.csv tables "
                         "and PNG figures to --out. Nothing in the reports is typed by hand.")
    rep.add_argument("--suite", default="gaussian_mixture", help="suite name (default: gaussian_mixture)")
    rep.add_argument("--results", type=Path, default=Path("results"), help="where records are (default: results/)")
    rep.add_argument("--out", type=Path, default=Path("reports"), help="where reports go (default: reports/)")
    rep.add_argument("--profile", default=None, help="only records of this profile (default: the profile "
                     "with the most records); reports of profiles other than cpu go to <out>/<profile>/")

    perf = sub.add_parser("perf", help="measure training throughput against this machine's matmul peak",
                          description="Measure, for every method at a profile's sizes: training samples/s "
                          "(median of repeats after warm-up), counted FLOPs per step, achieved GFLOP/s and its "
                          "ratio to the matmul peak measured in the same run, evaluation time per task and "
                          "peak memory; and the ceiling these sizes allow: one of the backbone's velocity networks "
                          "alone, forward and backward on a fifth of a batch, one batch and four. Writes "
                          "<out>/perf.md and a JSON record.")
    perf.add_argument("--methods", default="all", help="'all' or comma-separated method names")
    perf.add_argument("--suite", default="gaussian_mixture", help="suite name (default: gaussian_mixture)")
    perf.add_argument("--profile", default="cpu", help="whose sizes to measure (default: cpu)")
    perf.add_argument("--repeats", type=int, default=5, help="timed repeats per method (default: 5)")
    perf.add_argument("--steps", type=int, default=10, help="training steps per repeat (default: 10)")
    perf.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                      help="where to measure (default: auto = cuda if available)")
    perf.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="override a setting of the measured profile (as in bench run)")
    perf.add_argument("--out", type=Path, default=Path("reports"), help="where perf.md goes (default: reports/)")
    perf.add_argument("--results", type=Path, default=Path("results"),
                      help="where the perf record goes (default: results/; the file is "
                      "results/perf/<suite>-<profile>-<device>.json)")
    return parser


def pick_methods(text: str) -> list[str]:
    from methods import METHODS

    if text == "all":
        return METHODS.names()
    names = comma_list(text)
    if not names:
        raise UsageError("--methods is empty; give 'all' or method names (see 'bench list methods')")
    for name in names:
        METHODS.get(name)
    return names


def cmd_run(args) -> int:
    from bench.config import PROFILES, validate_overrides
    from bench.records import command_line
    from bench.runner import RunRequest, pick_device, run
    from tasks import SUITES

    SUITES.get(args.suite)
    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile '{args.profile}'; available: {', '.join(PROFILES)}")
    methods = pick_methods(args.methods)
    validate_overrides(args.overrides, args.suite, methods)
    if args.workers < 0:
        raise UsageError(f"--workers must be 0 (auto) or a positive number, got {args.workers}")
    try:
        pick_device(args.device)
    except ValueError as err:
        raise UsageError(str(err)) from None
    request = RunRequest(suite=args.suite, methods=methods, seeds=parse_seeds(args.seeds), profile=args.profile,
                         overrides=args.overrides, device=args.device, out=args.out,
                         tracking_uri=args.tracking_uri, force=args.force,
                         command=command_line(args.argv), show_progress=not args.quiet, workers=args.workers)
    from bench.runner import plan

    plan(request)  # resolve every cell up front so config mistakes stop the run before any training
    try:
        outcomes = run(request)
    except KeyboardInterrupt:
        print("bench: interrupted; finished cells are kept — rerun the same command to resume", file=sys.stderr)
        return 130
    failed = [o for o in outcomes if o.status == "failed"]
    done = sum(o.status == "ok" for o in outcomes)
    skipped = sum(o.status == "skipped" for o in outcomes)
    print(f"bench: {done} cells ran, {skipped} already done, {len(failed)} failed; records under {args.out}")
    for o in failed:
        print(f"bench: FAILED {o.method} seed {o.seed}: {o.reason} ({o.record})", file=sys.stderr)
    if done + skipped:
        print(f"bench: next, 'python -m bench report --suite {args.suite} --results {args.out}'")
    return 1 if failed else 0


def cmd_list(args) -> int:
    from bench.listing import listing

    print(listing(args.what))
    return 0


def cmd_report(args) -> int:
    from bench.report import write_report

    for path in write_report(args.suite, args.results, args.out, args.profile):
        print(f"bench: wrote {path}")
    return 0


def cmd_perf(args) -> int:
    from bench.config import validate_overrides
    from bench.perf import run_perf

    if args.repeats < 1 or args.steps < 1:
        raise UsageError("--repeats and --steps must be at least 1")
    validate_overrides(args.overrides, args.suite, pick_methods(args.methods))

    for path in run_perf(args):
        print(f"bench: wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    from bench.config import ConfigError

    try:
        args = parser.parse_args(argv)
        args.argv = argv
        if args.command is None:
            parser.print_help()
            return 2
        handler = {"run": cmd_run, "list": cmd_list, "report": cmd_report, "perf": cmd_perf}[args.command]
        return handler(args)
    except (UsageError, UnknownNameError, ConfigError, FileNotFoundError) as err:
        print(f"bench: error: {err}", file=sys.stderr)
        return 2
