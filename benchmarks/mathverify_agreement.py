"""How often fnforge's MATH judge agrees with Math-Verify's own regression cases.

Math-Verify (HuggingFace) keeps, in its test suite, pairs of a reference and a model output
with the verdict a good judge must give: several `\\boxed{}` answers, answers joined by
"and", sets written as inequalities, matrices, units, `x \\approx 11`... The cases are read
from the test files of Math-Verify 0.9.0's source release (`--extract-from DIR`, once) and
kept in `benchmarks/data/mathverify_cases.jsonl` with their licence and source.

Each case runs through `fnforge check --task math` on a data file of the references and a
predictions file of the outputs (the same path a user takes). Baselines, in the same run:
Math-Verify's plain `verify(parse(gold), parse(output))`, one configuration for all cases,
as a new user would call it; and fnforge as it was before issue 24 (commit `BEFORE`, whose
short-cuts could say "different" without asking Math-Verify), its `fnforge` package taken
from git into a temporary directory. The agreement is printed on all 274 rows and on the
rows its tests run with the default comparison settings; the 5 rows that test a
non-default setting (`precision=2`, `strict=False`, `allow_set_relation_comp=True`; `f(x)`
vs `f(y)` is expected both ways) are listed with their setting, since no single
configuration can pass both sides of them.

The speed cost: MATH checks per second (`evaluator_speed.py`'s workload on the whole
Minerva file, `--datasets`) for the code before and after, each in its own process.

Run: .venv/bin/python benchmarks/mathverify_agreement.py [--datasets ../shared/datasets]
Last line: RESULT cases=<n> agree=<share> mathverify_self=<share> agree_all=<share>
mathverify_self_all=<share> agree_all_before=<share> math_per_s_before=<n> math_per_s=<n>
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = HERE / "data" / "mathverify_cases.jsonl"
BEFORE = "66f2b6bb59dbea8ec84c249812ec199c91477f80"  # main before issue 24: the old short-cuts
DEFAULT_DATASETS = HERE.parents[1] / "shared" / "datasets"
# run fnforge's CLI or the speed workload with the `fnforge` package found first on sys.path[1]
RUN_CLI = "import sys; sys.path.insert(0, sys.argv.pop(1)); from fnforge.cli import main; sys.exit(main())"
RUN_SPEED = (
    "import sys, json, logging; root, bench, data = sys.argv[1:4]; sys.path[:0] = [root, bench]; "
    "logging.disable(logging.WARNING); import evaluator_speed as s, fnforge; "
    "from fnforge.evaluators import Task, get_evaluator; "
    "assert fnforge.__file__.startswith(root), fnforge.__file__; "
    "e = get_evaluator('math'); cases = s.workload(e, e.load(data)); "
    "e.judge(Task(id='warm', inputs={}, reference='x^2'), 'The answer is $x x$.'); "
    "print(json.dumps(s.ours(e, cases)))"
)
DEFAULT_SETTINGS = {"precision": 6, "strict": True, "allow_set_relation_comp": False}
TEST_FILES = (
    "test_all.py",
    "test_boxed.py",
    "test_numina_cases.py",
    "test_open_thoughts.py",
    "test_yujianll.py",
    "test_strict.py",
)


def extract_cases(tests_dir: Path) -> list[dict]:
    """Every literal (gold, pred, expected) row of the parametrized tests, with the test's name
    and any per-case setting (precision, strict, allow_set_relation_comp) the row carries."""
    cases: list[dict] = []
    for name in TEST_FILES:
        tree = ast.parse((tests_dir / name).read_text(encoding="utf-8"))
        for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
            for deco in fn.decorator_list:
                if not (isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "parametrize"):
                    continue
                names = [s.strip() for s in ast.literal_eval(deco.args[0]).split(",")]
                if not {"gold", "pred"} <= set(names):
                    continue
                for row in deco.args[1].elts:
                    try:
                        values = dict(zip(names, ast.literal_eval(row), strict=True))
                    except ValueError:  # a row built by code (an f-string): not a literal case
                        continue
                    expected = values.pop("expected", values.pop("result", None))
                    gold, pred = values.pop("gold"), values.pop("pred")
                    values.pop("match_types", None)
                    cases.append(
                        {
                            "test": f"tests/{name}::{fn.name}",
                            "gold": gold,
                            "pred": pred,
                            "expected": bool(expected),
                            "settings": values,
                        }
                    )
    return cases


def mathverify_verdicts(cases: list[dict]) -> list[bool]:
    """Math-Verify's plain parse + verify, default configuration, on every case."""
    from math_verify import parse, verify

    out = []
    for case in cases:
        try:
            out.append(bool(verify(parse(case["gold"]), parse(case["pred"]))))
        except Exception:  # noqa: BLE001 - a crash of the baseline counts as "wrong"
            out.append(False)
    return out


def fnforge_verdicts(cases: list[dict], package_root: Path) -> list[bool]:
    """`fnforge check --task math --per-item` over all cases at once, with the `fnforge`
    package under `package_root`."""
    with tempfile.TemporaryDirectory() as tmp:
        data, preds = Path(tmp) / "refs.jsonl", Path(tmp) / "preds.jsonl"
        data.write_text(
            "".join(
                json.dumps({"id": str(i), "problem": "?", "answer": c["gold"]}) + "\n"
                for i, c in enumerate(cases)
            )
        )
        preds.write_text(
            "".join(json.dumps({"id": str(i), "output": c["pred"]}) + "\n" for i, c in enumerate(cases))
        )
        run = subprocess.run(
            [
                sys.executable,
                "-c",
                RUN_CLI,
                str(package_root),
                "check",
                "--task",
                "math",
                "--data",
                str(data),
                "--predictions",
                str(preds),
                "--per-item",
            ],
            capture_output=True,
            text=True,
            env=os.environ,
        )
        if run.returncode != 0:
            raise SystemExit(f"fnforge check failed: {run.stderr.strip()}")
        items = {item["id"]: item for item in json.loads(run.stdout)["items"]}
        return [bool(items[str(i)]["correct"]) for i in range(len(cases))]


def package_before(tmp: Path) -> Path:
    """The `fnforge` package of commit BEFORE, unpacked under `tmp` (git archive, no checkout)."""
    archive = subprocess.run(
        ["git", "-C", str(HERE.parent), "archive", BEFORE, "fnforge"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
    return tmp


def math_per_s(package_root: Path, data: Path) -> float:
    """MATH checks per second on evaluator_speed.py's workload, with that package, in its own process."""
    run = subprocess.run(
        [sys.executable, "-c", RUN_SPEED, str(package_root), str(HERE), str(data)],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise SystemExit(f"the speed run failed: {run.stderr.strip()[-2000:]}")
    return float(json.loads(run.stdout.strip().splitlines()[-1])[0])


def show_disagreements(ours: list[bool], cases: list[dict], default: list[bool]) -> None:
    """Every case fnforge judges against the expected verdict, with its setting if not default."""
    for i, (o, c) in enumerate(zip(ours, cases, strict=True)):
        if o != c["expected"]:
            tag = "" if default[i] else f" [settings {c['settings']}]"
            print(
                f"  case {i} ({c['test']}){tag}: expected {c['expected']}, "
                f"gold={c['gold'][-80:]!r} pred=...{c['pred'][-80:]!r}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--extract-from", type=Path, help="Math-Verify's tests/ folder: rewrite the case file"
    )
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS, help="for the speed figures")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if args.extract_from:
        cases = extract_cases(args.extract_from)
        CASES.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
        print(f"wrote {len(cases)} cases to {CASES}")
    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    minerva = args.datasets / "math" / "minerva_math.jsonl"
    with tempfile.TemporaryDirectory() as tmp:
        before_root = package_before(Path(tmp))
        ours, before = fnforge_verdicts(cases, HERE.parent), fnforge_verdicts(cases, before_root)
        rate_before, rate = math_per_s(before_root, minerva), math_per_s(HERE.parent, minerva)
    theirs = mathverify_verdicts(cases)
    default = [all(c["settings"].get(k, v) == v for k, v in DEFAULT_SETTINGS.items()) for c in cases]

    def share(verdicts: list[bool], keep: list[bool]) -> tuple[float, int]:
        picked = [(v, c) for v, c, k in zip(verdicts, cases, keep, strict=True) if k]
        return sum(v == c["expected"] for v, c in picked) / len(picked), len(picked)

    show_disagreements(ours, cases, default)
    everything = [True] * len(cases)
    all_ours, n_all = share(ours, everything)
    all_theirs, _ = share(theirs, everything)
    all_before, _ = share(before, everything)
    print(
        f"all {n_all} rows: fnforge check {all_ours:.4f} | Math-Verify parse+verify {all_theirs:.4f} | "
        f"fnforge before ({BEFORE[:7]}) {all_before:.4f}"
    )
    agree, n = share(ours, default)
    self_agree, _ = share(theirs, default)
    print(
        f"{n} rows with default settings: fnforge check {agree:.4f} | Math-Verify parse+verify "
        f"{self_agree:.4f} | ratio {agree / self_agree:.3f}"
    )
    print(
        f"MATH checks/s (evaluator_speed workload): before {rate_before:.0f} | now {rate:.0f} | ratio {rate / rate_before:.2f}"
    )
    print(
        f"RESULT cases={n} agree={agree:.4f} mathverify_self={self_agree:.4f} agree_all={all_ours:.4f} "
        f"mathverify_self_all={all_theirs:.4f} agree_all_before={all_before:.4f} "
        f"math_per_s_before={rate_before:.0f} math_per_s={rate:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
