"""The versioned function store: a function set as a git repository the user owns.

Every proposed edit is a commit on a candidate branch; an accepted step is a `--no-ff`
merge into the set's branch; a rejected one stays under `refs/fnforge/rejected/`; JSON
notes under `refs/notes/fnforge` and commit trailers tell the whole story to plain git.
This part imports only fnforge.protocol and fnforge.config, never sandbox, evaluators or
engine: those give it gates through the protocol instead.
"""

from fnforge.function_repo.actions import Action, load_actions, parse_actions
from fnforge.function_repo.candidate import Candidate, StepResult, run_gates
from fnforge.function_repo.errors import ActionError, RepoError, RepoLocked
from fnforge.function_repo.export import EXPORTS, Exported, ExportRequest, export_tools_json, export_wheel
from fnforge.function_repo.history import StepRecord
from fnforge.function_repo.repo import FunctionRepo
from fnforge.function_repo.schema import defaulted_parameters, tool_schema
from fnforge.function_repo.static_gate import StaticGate

__all__ = [
    "EXPORTS",
    "Action",
    "ActionError",
    "Candidate",
    "ExportRequest",
    "Exported",
    "FunctionRepo",
    "RepoError",
    "RepoLocked",
    "StaticGate",
    "StepRecord",
    "StepResult",
    "export_tools_json",
    "export_wheel",
    "load_actions",
    "parse_actions",
    "run_gates",
    "tool_schema",
    "defaulted_parameters",
]
