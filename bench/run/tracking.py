"""MLflow tracking that never stops a run: one MLflow run per cell, in an experiment per suite.

The runner prepares the store once, before any cell starts (`prepare_tracking`): a new sqlite store is built
under a lock in a temporary file and renamed into place, so concurrent cells or runs never migrate it at the
same time and a kill during setup never leaves a half-built store; an unreachable or broken store is found
here, in seconds, and the run goes on untracked with one line saying why. In a cell, a failing store turns
later tracking calls into no-ops and the record says tracking failed; a locked database is retried briefly."""
from __future__ import annotations

import logging
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from base.cache import cache_root

TRACKING_ENV = "MLFLOW_TRACKING_URI"
DEFAULT_STORE = "mlflow.db"
# how long an http store may take per request, and how often it is retried, once the run has checked it is up
HTTP_SETTINGS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "20", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2"}
PROBE_SETTINGS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "5", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
TRANSIENT = ("database is locked", "database table is locked", "busy")


def quiet_tracking_logs() -> None:
    """MLflow's and alembic's INFO lines would break the progress bars; warnings and errors still show. MLflow
    sets its loggers' level when imported, so it is imported first."""
    import mlflow  # noqa: F401

    for name in ("mlflow", "alembic", "sqlalchemy", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="mlflow")


def store_uri(out: Path, given: str | None) -> str:
    """--tracking-uri, else $MLFLOW_TRACKING_URI, else a sqlite database in the output directory."""
    return given or os.environ.get(TRACKING_ENV) or f"sqlite:///{(out / DEFAULT_STORE).resolve()}"


def sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def shown_uri(uri: str, out: Path) -> str:
    """The URI as records keep it: a sqlite file relative to the output directory, never a machine's path."""
    path = sqlite_path(uri)
    if path is None:
        return uri
    try:
        return f"sqlite:///{path.resolve().relative_to(out.resolve()).as_posix()} (in the output directory)"
    except ValueError:
        return f"sqlite:///…/{path.name}"


@dataclass
class TrackingSetup:
    uri: str | None  # None: this run is untracked
    shown: str  # the store as records and the console name it
    error: str | None = None  # why the run is untracked


def metric_name(key: str) -> str:
    """A record's metric key as MLflow accepts it (alphanumerics, _ - . space : / only; others become _)."""
    return re.sub(r"[^\w\-. :/]", "_", key)


def with_retries(fn, *args, attempts: int = 6, **kwargs):
    """Call fn, retrying briefly while the store reports itself locked or busy (concurrent writers)."""
    for attempt in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            if attempt == attempts - 1 or not any(t in str(err).lower() for t in TRANSIENT):
                raise
            time.sleep(0.1 * 2 ** attempt)


def first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".strip()


def create_sqlite_store(path: Path) -> None:
    """A new sqlite store at `path`, built in a temporary file beside it and renamed into place: the store at
    `path` is either absent or complete. The caller holds the store's lock. It is a copy of an empty store that
    MLflow's migrations built once per MLflow version under the cache (they take seconds; a copy does not)."""
    def copy_or_migrate(tmp: Path) -> None:
        try:
            shutil.copyfile(empty_store(), tmp)
        except OSError:  # a cache that cannot be written: migrate here
            migrate_new_store(tmp)

    build_in_place(path, copy_or_migrate)


def build_in_place(path: Path, build: Callable[[Path], None]) -> None:
    """`build` a file in a temporary file beside `path`, then rename it into place; temporary files of a build
    that was killed are removed first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.creating-*"):
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.creating-{os.getpid()}")
    build(tmp)
    os.replace(tmp, path)


def empty_store() -> Path:
    """The cache's empty store for this MLflow version, built (under a lock, atomically) when missing."""
    import mlflow
    from filelock import FileLock

    template = cache_root() / "mlflow" / f"empty-store-{mlflow.__version__}.db"
    if not template.exists():
        template.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(template) + ".lock", timeout=300):
            if not template.exists():
                build_in_place(template, migrate_new_store)
    return template


def migrate_new_store(path: Path) -> None:
    """MLflow's tables and migrations in a new sqlite file."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{path}"
    try:
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    finally:
        engine = getattr(SqlAlchemyStore, "_engine_map", {}).pop(uri, None)
        if engine is not None:
            engine.dispose()


def prepare_tracking(uri: str, experiment: str, artifact_root: Path, out: Path) -> TrackingSetup:
    """Create (once) and check the store and the suite's experiment before any cell starts."""
    from filelock import FileLock

    quiet_tracking_logs()
    shown = shown_uri(uri, out)
    for key, value in HTTP_SETTINGS.items():
        os.environ.setdefault(key, value)
    saved = {key: os.environ.get(key) for key in PROBE_SETTINGS}
    os.environ.update(PROBE_SETTINGS)
    try:
        from mlflow.tracking import MlflowClient

        path = sqlite_path(uri)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(str(path) + ".lock", timeout=120):
                if not path.exists():
                    create_sqlite_store(path)
                experiment_id(MlflowClient(tracking_uri=uri), experiment, artifact_root)
        else:
            experiment_id(MlflowClient(tracking_uri=uri), experiment, artifact_root)
        return TrackingSetup(uri, shown)
    except Exception as err:
        return TrackingSetup(None, shown, f"the tracking store {shown} cannot be used ({first_line(err)})")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def experiment_id(client, experiment: str, artifact_root: Path | None) -> str:
    found = with_retries(client.get_experiment_by_name, experiment)
    if found is not None:
        return found.experiment_id
    location = artifact_root.resolve().as_uri() if artifact_root else None
    try:
        return with_retries(client.create_experiment, experiment, artifact_location=location)
    except Exception:  # another process created it first
        found = with_retries(client.get_experiment_by_name, experiment)
        if found is None:
            raise
        return found.experiment_id


class Tracker:
    """One cell's MLflow run. `setup.uri` None: every call is a no-op and the record says why."""

    def __init__(self, setup: TrackingSetup, experiment: str, artifact_root: Path | None = None):
        self.setup = setup
        self.experiment = experiment
        self.artifact_root = artifact_root
        self.run_id: str | None = None
        self.kept: Path | None = None  # the file naming this cell's run, for a rerun after a kill
        self.error: str | None = None
        self._client = None
        self._pending: list[Any] = []

    def _guard(self, action: str, fn, *args, **kwargs):
        if self.error is not None or self.setup.uri is None:
            return None
        try:
            return with_retries(fn, *args, **kwargs)
        except Exception as err:  # a tracking failure must never cost the user their run
            self.error = f"{action} failed: {first_line(err)}"
            return None

    def start(self, run_name: str, params: dict[str, Any], tags: dict[str, str], keep: Path | None = None) -> None:
        """Start the cell's run; with `keep` (a file beside the cell's checkpoint), continue the run an earlier,
        killed attempt of the cell left unfinished, so the store holds one run per cell and no ghost RUNNING."""
        self._guard("starting the MLflow run", self._start, run_name, params, tags, keep)

    def _start(self, run_name, params, tags, keep):
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        quiet_tracking_logs()
        self._client = MlflowClient(tracking_uri=self.setup.uri)
        experiment = experiment_id(self._client, self.experiment, self.artifact_root)
        self.kept = keep
        self._close_ghosts(keep)
        if self._continue(keep, experiment):
            return
        run = self._client.create_run(experiment, run_name=run_name, tags=tags)
        self.run_id = run.info.run_id
        if keep is not None:
            keep.parent.mkdir(parents=True, exist_ok=True)
            keep.write_text(self.run_id)
        items = [Param(k, str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            with_retries(self._client.log_batch, self.run_id, params=items[i:i + 100])

    def _close_ghosts(self, keep: Path | None) -> None:
        """Runs that killed attempts of this cell under other code left RUNNING (their files name another code
        fingerprint: the cell starts afresh, so they are not continued) are closed as KILLED."""
        if keep is None:
            return
        prefix = keep.name.rsplit("-", 1)[0] + "-"
        for other in keep.parent.glob(f"{prefix}*{keep.suffix}"):
            if other != keep:
                try:
                    run = self._client.get_run(other.read_text().strip())
                    if run.info.status == "RUNNING":
                        with_retries(self._client.set_terminated, run.info.run_id, "KILLED")
                except Exception:  # gone from the store: nothing to close
                    pass
                other.unlink(missing_ok=True)

    def _continue(self, keep: Path | None, experiment: str) -> bool:
        """Take up the run named in `keep` when it is this experiment's and was not finished; its parameters are
        the same cell's, already logged."""
        if keep is None or not keep.is_file():
            return False
        try:
            run = self._client.get_run(keep.read_text().strip())
        except Exception:  # gone from the store (another store, or deleted): start a new run
            return False
        if run.info.experiment_id != experiment or run.info.status == "FINISHED":
            return False
        self.run_id = run.info.run_id
        with_retries(self._client.update_run, self.run_id, status="RUNNING")
        return True

    def log_metrics(self, values: dict[str, float], step: int) -> None:
        if self.run_id is None or self.error is not None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._pending.extend(Metric(metric_name(k), float(v), now, step) for k, v in values.items())
        if len(self._pending) >= 200:
            self.flush()

    def flush(self) -> None:
        if self._pending and self.run_id is not None:
            pending, self._pending = self._pending, []
            for i in range(0, len(pending), 1000):
                self._guard("logging metrics", self._client.log_batch, self.run_id, metrics=pending[i:i + 1000])

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        if self.run_id is not None:
            self._guard(f"logging artifact {Path(path).name}", self._client.log_artifact, self.run_id,
                        str(path), folder)

    def end(self, status: str = "FINISHED") -> None:
        """End the run; a KILLED run stays named beside the checkpoint, for the rerun to continue."""
        self.flush()
        if self.run_id is not None:
            self._guard("ending the MLflow run", self._client.set_terminated, self.run_id, status)
        if status != "KILLED" and self.kept is not None:
            self.kept.unlink(missing_ok=True)

    def summary(self) -> dict[str, Any]:
        if self.setup.uri is None:
            return {"uri": self.setup.shown, "experiment": self.experiment, "run_id": None, "status": "disabled",
                    "error": self.setup.error}
        return {"uri": self.setup.shown, "experiment": self.experiment, "run_id": self.run_id,
                "status": "failed" if self.error else "ok", "error": self.error}
