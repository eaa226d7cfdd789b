"""pandas is in the image, in its package label (what the optimizer is told), and tools use it.

LLM-written tools for tables reach for DataFrames. The table arrives as JSON (rows of
strings) and becomes a DataFrame inside the function, which passes every gate before the
sandbox (static, policy with the image's own package list, property tests) and runs there.
"""

from __future__ import annotations

import docker
from candidates import Action, Candidate, module

from fnforge.function_repo import StaticGate, tool_schema
from fnforge.function_repo.json_types import strict_problems
from fnforge.sandbox import PolicyGate, PropertyGate, image_packages
from fnforge.sandbox.image import LABEL_PACKAGES

COLUMN_TOTAL = module(
    "column_total",
    """
header = rows[0] if rows else []
if column not in header:
    return 0.0
body = [(row + [""] * len(header))[: len(header)] for row in rows[1:]]
frame = pd.DataFrame(body, columns=range(len(header)))
values = pd.to_numeric(frame[header.index(column)], errors="coerce").dropna()
return float(values[values.abs() < 1e12].sum())
""",
    params="rows: list[list[str]], column: str",
    returns="float",
    doc="The total of one column of a table given as rows, the first row naming the columns.",
    header="import pandas as pd\n\nPACKAGES = ['pandas']\n",
)
TABLE = [["item", "price"], ["pen", "1.50"], ["book", "12.25"], ["bag", "n/a"]]


def test_pandas_is_in_the_image_and_its_package_label(docker_settings):
    image = docker.from_env(version="auto").images.get(docker_settings.image)
    assert "pandas" in image.labels[LABEL_PACKAGES].split(",")
    assert "pandas" in image_packages(docker_settings)  # the list the policy gate and optimizer see


def test_a_function_using_a_dataframe_runs_in_the_sandbox(pool):
    res = pool.call({"column_total": COLUMN_TOTAL}, "column_total", {"rows": TABLE, "column": "price"})
    assert res.ok, res.error
    assert res.value == 13.75
    source = 'import pandas as pd\n\n\ndef pd_version() -> str:\n    """Which pandas."""\n    return pd.__version__\n'
    version = pool.call({"pd_version": source}, "pd_version", {})
    assert version.ok and int(version.value.split(".")[0]) >= 1, version


def test_a_dataframe_tool_passes_every_gate_before_validation(pool2, docker_settings, module_facts):
    candidate = Candidate(
        functions={"column_total": COLUMN_TOTAL}, changed=["column_total"],
        actions=[Action("add_function", "column_total")],
    )  # fmt: skip
    for gate in (
        StaticGate(),
        PolicyGate(image_packages(docker_settings), module_facts),
        PropertyGate(pool2, docker_settings),
    ):
        verdict = gate.check(candidate)
        assert verdict.passed, f"{gate.name}: {verdict.reason}"
    assert strict_problems(tool_schema(COLUMN_TOTAL)["function"]["parameters"]) == []


def test_a_dataframe_parameter_is_refused_with_the_json_form_to_use():
    source = module("total", "return float(frame.sum().sum())", params="frame: pd.DataFrame", returns="float",
                    header="import pandas as pd\n\nPACKAGES = ['pandas']\n")  # fmt: skip
    verdict = StaticGate().check(Candidate(functions={"total": source}, changed=["total"],
                                           actions=[Action("add_function", "total")]))  # fmt: skip
    assert not verdict.passed
    assert "parameter frame of total is a DataFrame" in verdict.reason and "list[list[str]]" in verdict.reason
