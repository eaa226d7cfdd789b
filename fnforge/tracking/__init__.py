"""Experiment tracking: a run's figures handed to the tracker a team already uses (MLflow).

Git stays the record of a run; a tracker receives a copy as each step is recorded, through
one seam (`StepSink`), built by `open_sink` from `[tracking]`. Only `mlflow_sink.py` imports
MLflow (the `fnforge[mlflow]` extra).
"""

from fnforge.tracking.choose import open_sink
from fnforge.tracking.sink import NoSink, StepSink

__all__ = ["NoSink", "StepSink", "open_sink"]
