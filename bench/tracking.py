"""MLflow tracking that never stops a run: one MLflow run per cell, in an experiment per suite. If the store
fails, the error is kept, later calls become no-ops, and the record says tracking failed."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

TRACKING_ENV = "MLFLOW_TRACKING_URI"


def default_tracking_uri(out: Path) -> str:
    """--tracking-uri, else $MLFLOW_TRACKING_URI, else a sqlite database in the output directory."""
    return os.environ.get(TRACKING_ENV) or f"sqlite:///{(out / 'mlflow.db').resolve()}"


class Tracker:
    def __init__(self, uri: str, experiment: str, artifact_root: Path | None = None):
        self.uri = uri
        self.experiment = experiment
        self.artifact_root = artifact_root
        self.run_id: str | None = None
        self.error: str | None = None
        self._client = None
        self._pending: list[Any] = []

    def _guard(self, action: str, fn, *args, **kwargs):
        if self.error is not None:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # a tracking failure must never cost the user their run
            self.error = f"{action} failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            return None

    def start(self, run_name: str, params: dict[str, Any], tags: dict[str, str]) -> None:
        self._guard("starting the MLflow run", self._start, run_name, params, tags)

    def _start(self, run_name, params, tags):
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        self._client = MlflowClient(tracking_uri=self.uri)
        exp = self._client.get_experiment_by_name(self.experiment)
        if exp is None:
            location = self.artifact_root.resolve().as_uri() if self.artifact_root else None
            exp_id = self._client.create_experiment(self.experiment, artifact_location=location)
        else:
            exp_id = exp.experiment_id
        run = self._client.create_run(exp_id, run_name=run_name, tags=tags)
        self.run_id = run.info.run_id
        items = [Param(k, str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self._client.log_batch(self.run_id, params=items[i:i + 100])

    def log_metrics(self, values: dict[str, float], step: int) -> None:
        if self.run_id is None or self.error is not None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._pending.extend(Metric(k, float(v), now, step) for k, v in values.items())
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

    def set_tags(self, tags: dict[str, str]) -> None:
        if self.run_id is not None:
            for k, v in tags.items():
                self._guard("setting tags", self._client.set_tag, self.run_id, k, v)

    def end(self, status: str = "FINISHED") -> None:
        self.flush()
        if self.run_id is not None:
            self._guard("ending the MLflow run", self._client.set_terminated, self.run_id, status)

    def summary(self) -> dict[str, Any]:
        return {"uri": self.uri, "experiment": self.experiment, "run_id": self.run_id,
                "status": "failed" if self.error else "ok", "error": self.error}
