"""A training run as an MLflow run: settings as params, each step's figures as metrics at `step`.

The only module of fnforge that imports `mlflow` (the `fnforge[mlflow]` extra; the full
package, since `mlflow-skinny` refuses `sqlite:` stores). Per step it logs, at step = the
step number: `validation_score` (the head's validation score after the step, carried over
steps whose validation did not run), `candidate_validation_score`, `train_batch_score`,
`accepted` (0/1), `tokens`, `cost_usd` and `validation_tasks`; tags
`fnforge.step.<n>.commit` and `fnforge.step.<n>.decision`; and for an accepted step its
function set as artifacts under `step-<n>/functions/`.

The MLflow run id is kept in `.git/fnforge/tracking/mlflow-<run>.json`, so `--resume`
continues the same MLflow run. A relative `sqlite:///` path is taken relative to the
repository (not the shell's directory), and a new experiment on a sqlite store keeps its
artifacts beside the database instead of in the current directory.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from fnforge.report.model import StepView
from fnforge.tracking.sink import StepSink

PARAM_LIMIT = 6000  # MLflow's longest param value
TAG_LIMIT = 5000
SQLITE = "sqlite:///"


def resolve_uri(uri: str, root: Path) -> str:
    """The tracking URI with a relative sqlite path made absolute against the repository."""
    if uri.startswith(SQLITE) and not uri.startswith(SQLITE + "/"):
        path = (root / uri[len(SQLITE) :]).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return SQLITE + str(path)
    if uri.startswith(SQLITE):
        Path(uri[len(SQLITE) :]).parent.mkdir(parents=True, exist_ok=True)
    return uri


def _artifact_location(uri: str) -> str | None:
    """For a sqlite store, a folder beside the database; a server decides for itself."""
    if uri.startswith(SQLITE):
        return (Path(uri[len(SQLITE) :]).parent / "mlflow-artifacts").as_uri()
    return None


def flat_params(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested settings as `section.key` -> text, lists and tables as JSON, cut to MLflow's limit."""
    if isinstance(value, dict) and (not prefix or prefix.count(".") < 1):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(flat_params(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return {prefix: text[:PARAM_LIMIT]}


def _run_file(git_dir: Path, run: str) -> Path:
    return Path(git_dir) / "fnforge" / "tracking" / f"mlflow-{run}.json"


class MlflowSink(StepSink):
    """Logs one fnforge run to one MLflow run (see the module docstring for what goes where)."""

    def __init__(self, client: MlflowClient, run_id: str, head_score: float | None = None):
        self.client = client
        self.run_id = run_id
        self.head_score = head_score  # the head's validation score so far

    @classmethod
    def start(cls, settings: Any, *, root: Path, git_dir: Path, run: str) -> MlflowSink:
        """Open (or, for a run seen before, reopen) the MLflow run of fnforge run `run`."""
        os.environ.setdefault(
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"
        )  # an unreachable server: seconds, not minutes
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        uri = resolve_uri(settings.tracking.mlflow.strip(), Path(root))
        client = MlflowClient(tracking_uri=uri)
        kept = _run_file(git_dir, run)
        known = json.loads(kept.read_text(encoding="utf-8")) if kept.is_file() else {}
        if known.get("uri") == uri and known.get("run_id"):
            sink = cls(client, known["run_id"])
            client.update_run(sink.run_id, status="RUNNING")
            history = client.get_metric_history(sink.run_id, "validation_score")
            sink.head_score = max(history, key=lambda m: m.step).value if history else None
        else:
            name = settings.tracking.experiment or f"fnforge/{Path(root).name}"
            found = client.get_experiment_by_name(name)
            experiment = found.experiment_id if found else client.create_experiment(
                name, artifact_location=_artifact_location(uri)
            )  # fmt: skip
            tags = {"fnforge.run": run, "fnforge.repository": str(root)}
            sink = cls(client, client.create_run(experiment, run_name=run, tags=tags).info.run_id)
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text(json.dumps({"uri": uri, "run_id": sink.run_id}), encoding="utf-8")
        sink.log_params(flat_params(settings.model_dump(mode="json")))
        return sink

    def log_params(self, params: dict[str, str]) -> None:
        """The experiment file's settings; on a resumed run only those not logged yet (MLflow
        refuses to change a param)."""
        logged = self.client.get_run(self.run_id).data.params
        new = [Param(k, v) for k, v in sorted(params.items()) if k not in logged]
        for i in range(0, len(new), 100):  # MLflow takes at most 100 params a batch
            self.client.log_batch(self.run_id, params=new[i : i + 100])

    def step(self, view: StepView, functions: dict[str, str] | None) -> None:
        """The step's metrics at its number, its commit and decision as tags, its set if accepted."""
        if view.accepted and view.score_after is not None:
            self.head_score = view.score_after
        elif view.score_before is not None:
            self.head_score = view.score_before
        now = int(time.time() * 1000)
        values = {
            "validation_score": self.head_score,
            "candidate_validation_score": None if view.accepted else view.score_after,
            "train_batch_score": view.train_score,
            "accepted": 1.0 if view.accepted else 0.0,
            "tokens": view.tokens,
            "cost_usd": view.cost_usd,
            "validation_tasks": view.validation_tasks,
        }
        metrics = [Metric(k, float(v), now, view.step) for k, v in values.items() if v is not None]
        decision = view.decision if view.accepted else f"{view.decision} at {view.gate}: {view.reason}"
        tags = [
            RunTag(f"fnforge.step.{view.step}.commit", view.commit),
            RunTag(f"fnforge.step.{view.step}.decision", decision[:TAG_LIMIT]),
            RunTag("fnforge.last_step", str(view.step)),
        ]
        if view.accepted:
            tags.append(RunTag("fnforge.head", view.commit))
        self.client.log_batch(self.run_id, metrics=metrics, tags=tags)
        for name, source in sorted((functions or {}).items()):
            self.client.log_text(self.run_id, source, f"step-{view.step}/functions/{name}.py")

    def close(self, stopped: str) -> None:
        """Say why the run stopped and mark the MLflow run finished (an interrupted one: killed)."""
        self.client.set_tag(self.run_id, "fnforge.stopped", stopped[:TAG_LIMIT])
        self.client.set_terminated(self.run_id, "KILLED" if stopped.startswith("interrupted") else "FINISHED")
