"""The process where Math-Verify judges MATH answers, one request per line.

Math-Verify (HuggingFace) reads the final answer out of free text and decides equivalence
with sympy; both can take unbounded time or memory on a hostile input (`9^{9^{9^9}}`, a
100 KB prose reference), and neither its signal-based timeout (main thread only, cannot
interrupt C code) nor a thread can stop that. So the work runs here, in a separate process
that the parent simply kills when a request runs past its time limit. The protocol is JSON
lines both ways (never pickle):

- `{"gold": text, "pred": text, "hint": text|null}` -> `{"equal": bool|null, "error": str}`:
  the reference (`gold`) and the agent's output (`pred`) are read with Math-Verify's
  extraction (`extraction_configs`: LaTeX, then plain expressions; the output's `\\boxed{}`
  first) and compared by `verify` with its default settings; the verdict is Math-Verify's,
  with nothing added. Two reading settings only: a reference in which nothing is found is
  read once more as LaTeX (boxed: a LaTeX answer with a stray `$ $`), and an output in which
  nothing is found is read through `hint` (the answer span fnforge read), boxed.
- `{"read": text}` -> `{"readable": bool}`: whether a reference yields a mathematical answer.

Math-Verify's LaTeX parser builds sympy objects without `eval`.
"""

from __future__ import annotations

import functools
import json
import logging
import resource
import sys

MEMORY_LIMIT_BYTES = 2 * 1024**3


def _limit_memory() -> None:
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ValueError, OSError):  # a stricter limit is already in place
        pass


def extraction_configs() -> tuple[list, list]:
    """Math-Verify's extraction settings for (references, outputs), the ones fnforge documents
    and the differential test compares with: a reference is read as Math-Verify's defaults
    read it (any LaTeX span, then plain expressions); an output the same way except that its
    `\\boxed{}` answers come first, as the task instruction asks for one."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    return (
        [LatexExtractionConfig(), ExprExtractionConfig()],
        [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()],
    )


def main() -> None:
    """Serve requests until stdin closes."""
    _limit_memory()
    logging.disable(logging.CRITICAL)  # Math-Verify warns about disabled timeouts: we are the timeout
    from math_verify import parse, verify

    gold_config, pred_config = extraction_configs()

    @functools.lru_cache(maxsize=4096)
    def gold_parsed(text: str) -> list:
        found = parse(text, gold_config, parsing_timeout=None)
        if not found and not text.startswith("\\boxed{"):  # a LaTeX answer with a stray `$ $` in it
            found = parse("\\boxed{" + text + "}", gold_config, parsing_timeout=None)
        return found

    def pred_parsed(text: str, hint: str | None) -> list:
        found = parse(text, pred_config, parsing_timeout=None)
        if not found and hint:
            found = parse("\\boxed{" + hint + "}", pred_config, parsing_timeout=None)
        return found

    def answer(request: dict) -> dict:
        if "read" in request:
            # a mathematical object, not just the text given back (what a prose paragraph yields)
            return {"readable": any(not isinstance(x, str) for x in gold_parsed(request["read"]))}
        gold = gold_parsed(request["gold"])
        if not gold:
            return {"equal": None, "error": "the reference cannot be read"}
        pred = pred_parsed(request["pred"], request.get("hint"))
        if not pred:
            return {"equal": False, "error": "no answer found in the output"}
        return {"equal": bool(verify(gold, pred, timeout_seconds=None))}

    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            reply = answer(json.loads(line))
        except MemoryError:
            reply = {"equal": None, "error": "out of memory"}
        except Exception as e:  # a check that fails is an answer ("undecided"), not a crash
            reply = {"equal": None, "error": f"{type(e).__name__}: {e}"[:200]}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
