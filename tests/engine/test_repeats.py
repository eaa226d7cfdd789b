"""`[training] repeats = k`: a sampled agent scores each task k times, with k different requests.

The scripted model samples: it answers a task right only when the request's seed is 0 mod 3,
like a model at temperature > 0 that is right a third of the time. With repeats = 3 every
task is asked three times with seeds 0, 1, 2 (so the reply cache cannot hand back one reply
three times), and the score is the mean: 1/3.
"""

from __future__ import annotations

import os
from collections import Counter

import trust_world as tw
from llm_server import LLMServer, last_user_text, text

from fnforge.engine.experiment import Experiment

VAL = tw.records(4)


def sampled(body: dict) -> object:
    question = next(r for r in VAL if r["question"].strip() in last_user_text(body))
    guess = tw.answer_of(question) if body["seed"] % 3 == 0 else -1
    return text(f"#### {guess:g}")


def test_each_task_runs_k_times_with_distinct_seeds_and_the_mean_is_the_score(tmp_path, docker_pool) -> None:
    os.environ["FNFORGE_TEST_KEY"] = "sk-test"
    with LLMServer(sampled) as server:
        repo = tw.make_repo(
            tmp_path / "fns", server.base_url, tw.records(4, skip=4), VAL, training="repeats = 3\n"
        )
        with Experiment(repo, pool=docker_pool, splits=("val",)) as exp:
            ev = exp.score({}, "val")
            seeds = Counter(r["seed"] for r in server.requests)
            assert seeds == {0: 4, 1: 4, 2: 4}  # 4 tasks x 3 repeats, each repeat its own seed
            assert abs(ev.accuracy - 1 / 3) < 1e-9
            assert ev.task_scores() == {str(t.id): 1 / 3 for t in exp.val_tasks}
            assert ev.summary()["repeats"] == 3
            assert exp.score({}, "val").accuracy == ev.accuracy  # from the scorer's cache
        assert len(server.requests) == 12
