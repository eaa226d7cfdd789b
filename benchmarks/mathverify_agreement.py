"""How often fnforge's MATH judge agrees with Math-Verify's own regression cases.

Math-Verify (HuggingFace) keeps, in its test suite, pairs of a reference and a model output
with the verdict a good judge must give: several `\\boxed{}` answers, answers joined by
"and", sets written as inequalities, matrices, units, `x \\approx 11`... The cases are read
from the test files of Math-Verify 0.9.0's source release (`--extract-from DIR`, once) and
kept in `benchmarks/data/mathverify_cases.jsonl` with their licence and source.

Each case runs through `fnforge check --task math` on a data file of the references and a
predictions file of the outputs (the same path a user takes). Baseline, in the same run:
Math-Verify's plain `verify(parse(gold), parse(output))`, one configuration for all cases,
as a new user would call it. The RESULT counts the cases its tests run with the default
comparison settings; the 5 rows that test a non-default setting (`precision=2`,
`strict=False`, `allow_set_relation_comp=True`; `f(x)` vs `f(y)` is expected both ways) are
shown apart, since no single configuration can pass both sides of them.

Run: .venv/bin/python benchmarks/mathverify_agreement.py
Last line: RESULT cases=<n> agree=<share> mathverify_self=<share>
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

CASES = Path(__file__).resolve().parent / "data" / "mathverify_cases.jsonl"
FNFORGE = Path(sys.executable).with_name("fnforge")
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


def fnforge_verdicts(cases: list[dict]) -> list[bool]:
    """`fnforge check --task math --per-item` over all cases at once."""
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
                str(FNFORGE),
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--extract-from", type=Path, help="Math-Verify's tests/ folder: rewrite the case file"
    )
    parser.add_argument("--show", type=int, default=30, help="list this many disagreements")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if args.extract_from:
        cases = extract_cases(args.extract_from)
        CASES.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
        print(f"wrote {len(cases)} cases to {CASES}")
    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    ours = fnforge_verdicts(cases)
    theirs = mathverify_verdicts(cases)
    default = [all(c["settings"].get(k, v) == v for k, v in DEFAULT_SETTINGS.items()) for c in cases]

    def share(verdicts: list[bool], keep: list[bool]) -> tuple[float, int]:
        picked = [(v, c) for v, c, k in zip(verdicts, cases, keep, strict=True) if k]
        return sum(v == c["expected"] for v, c in picked) / len(picked), len(picked)

    everything = [True] * len(cases)
    for i, (o, c) in enumerate(zip(ours, cases, strict=True)):
        if o != c["expected"]:
            tag = "" if default[i] else f" [settings {c['settings']}]"
            print(
                f"  case {i} ({c['test']}){tag}: expected {c['expected']}, "
                f"gold={c['gold'][-80:]!r} pred=...{c['pred'][-80:]!r}"
            )
    all_ours, n_all = share(ours, everything)
    all_theirs, _ = share(theirs, everything)
    print(f"all {n_all} rows: fnforge check {all_ours:.4f} | Math-Verify parse+verify {all_theirs:.4f}")
    agree, n = share(ours, default)
    self_agree, _ = share(theirs, default)
    print(
        f"{n} rows with default settings: fnforge check {agree:.4f} | Math-Verify parse+verify "
        f"{self_agree:.4f} | ratio {agree / self_agree:.3f}"
    )
    print(f"RESULT cases={n} agree={agree:.4f} mathverify_self={self_agree:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
