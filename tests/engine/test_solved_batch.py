"""No step without something to learn from: a batch the head already solves.

Real GSM8K tasks (tests/data), scripted models on loopback, real Docker gates. Step 1's edit
is a `calculate` that knows the calculations of the second batch and of the validation tasks,
not of the first batch, so it is accepted and then solves batch 2 entirely while batch 1's
tasks still fail. At step 2, `solved_batch = "recent"` shows the optimizer the head's failures
on batch 1 and says so in the note; `"skip"` records the step as skipped without asking the
optimizer at all (counted at the server).
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import gsm8k_world as world
import trust_world as tw
from llm_server import LLMServer

from fnforge.engine.schedule import batch_schedule
from fnforge.engine.trainer import train

TRAIN, VAL = tw.records(8), tw.records(8, skip=8)
# the trainer's own schedule (seed 7, batches of 4; JSONL tasks are numbered by line)
FIRST, SECOND = (
    [TRAIN[int(t.id)] for t in b]
    for b in batch_schedule([SimpleNamespace(id=str(i)) for i in range(8)], 4, 3, 7)[:2]
)


def run(root, how: str, pool):
    os.environ["FNFORGE_TEST_KEY"] = "sk-test"
    with LLMServer(tw.OneEditWorld(TRAIN + VAL, tw.knowing(SECOND + VAL))) as server:
        training = f'precheck = false\nsolved_batch = "{how}"\n'
        repo = tw.make_repo(root, server.base_url, TRAIN, VAL, training=training, max_steps=2)
        result = train(repo, run="r1", pool=pool)
        return repo, result, server.requests_for(world.OPTIMIZER_MODEL)


def note_of(repo, step: int) -> dict:
    rec = next(r for r in repo.steps(include_rejected=True) if r.step == step)
    return json.loads(repo.git.run("notes", "--ref", "fnforge", "show", rec.commit))


def test_a_solved_batch_learns_from_the_recent_batches_failures(tmp_path, docker_pool) -> None:
    repo, result, asked = run(tmp_path / "recent", "recent", docker_pool)
    first, second = result.steps
    assert first.accepted and first.train_score == 0.0
    assert second.train_score == 1.0 and second.gate == "optimizer"  # asked; its edit repeats an add
    note = note_of(repo, 2)
    assert note["train"]["accuracy"] == 1.0
    assert note["learn_from"] == {"source": "recent", "failures": 4, "positions": [0]}
    assert len(asked) >= 2
    prompt = json.dumps(asked[-1])
    assert all(json.dumps(r["question"].strip())[1:-1] in prompt for r in FIRST)  # batch 1's transcripts


def test_skip_records_the_step_without_asking_the_optimizer(tmp_path, docker_pool) -> None:
    repo, result, asked = run(tmp_path / "skip", "skip", docker_pool)
    first, second = result.steps
    assert first.accepted
    assert second.gate == "solved" and not second.accepted and second.actions == []
    assert (
        second.reason
        == "the head solves this batch and the recent ones: nothing to learn, skipped to the next batch"
    )
    assert len(asked) == 1  # only step 1 asked the optimizer
    assert note_of(repo, 2)["learn_from"] == {"source": "skipped", "failures": 0}
