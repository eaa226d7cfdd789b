"""The process that does symbolic equivalence checks (math-verify + sympy), one per line.

Symbolic algebra can take unbounded time or memory on a hostile expression
(`9^{9^{9^9}}`), and neither math-verify's signal-based timeout (main thread only, cannot
interrupt C code) nor a thread can stop it. So the checks run here, in a separate process
that the parent simply kills when a check runs past its time limit. The protocol is JSON
lines both ways (never pickle): `{"a": latex, "b": latex}` in, `{"equal": bool}` out.
Only math-verify's LaTeX parser is used: it builds sympy objects without `eval`.
"""

from __future__ import annotations

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


def main() -> None:
    """Serve checks until stdin closes."""
    _limit_memory()
    logging.disable(logging.CRITICAL)  # math-verify warns about disabled timeouts: we are the timeout
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig()]

    def parsed(latex: str) -> list:
        return parse("\\boxed{" + latex + "}", config, parsing_timeout=None)

    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            request = json.loads(line)
            a, b = parsed(request["a"]), parsed(request["b"])
            if not a or not b:
                reply = {"equal": None, "error": "could not parse"}
            else:
                reply = {"equal": bool(verify(a, b, timeout_seconds=None))}
        except MemoryError:
            reply = {"equal": None, "error": "out of memory"}
        except Exception as e:  # a check that fails is an answer ("undecided"), not a crash
            reply = {"equal": None, "error": f"{type(e).__name__}: {e}"[:200]}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
