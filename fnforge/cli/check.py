"""`fnforge check`: score a predictions file against a dataset, as one JSON object.

Porcelain over `fnforge.evaluators`: load the tasks, read the predictions, score, print.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fnforge.cli.app import app
from fnforge.cli.output import result
from fnforge.evaluators import EvaluatorError, get_evaluator, load_predictions, score_outputs


@app.command()
def check(
    task: str = typer.Option(..., "--task", help="gsm8k, tabmwp, math or custom:module:function"),
    data: Path = typer.Option(
        ..., "--data", help="The tasks: a JSONL or JSON dataset file, or a directory of them."
    ),
    predictions: Path = typer.Option(
        ..., "--predictions", help='JSONL, one {"id": ..., "output": "<final text>"} per line.'
    ),
    per_item: bool = typer.Option(False, "--per-item", help="Also list each item's answer and verdict."),
) -> None:
    """Score an agent's outputs: accuracy, 95% Wilson interval, per-category breakdown."""
    try:
        evaluator = get_evaluator(task, repo_root=Path.cwd())
        tasks = evaluator.load(data)
        outputs = load_predictions(predictions, tasks)
    except EvaluatorError as e:
        # one line even when long (a console would wrap it at the terminal's width)
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    score = score_outputs(evaluator, tasks, outputs)
    report = {
        "task": evaluator.name,
        "n": score.n,
        "correct": score.correct,
        "accuracy": round(score.accuracy, 6),
        "interval": [round(x, 6) for x in score.interval],
        "missing": score.missing,
    }
    if score.by_category:
        report["by_category"] = {
            key: {value: c.model_dump() for value, c in values.items()}
            for key, values in score.by_category.items()
        }
    if per_item:
        report["items"] = [
            {
                "id": r.id,
                "extracted": r.extracted,
                "reference": r.reference,
                "correct": r.correct,
                **({"missing": True} if r.missing else {}),
                **({"note": r.note} if r.note else {}),
            }
            for r in score.items.values()
        ]
    result(report)
