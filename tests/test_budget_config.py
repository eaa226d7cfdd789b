"""The [budget] section and the settings of sequential validation and candidates, as the file gives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from fnforge.config import ConfigError, load_settings, render_template, unpriced_budget


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fnforge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_template_names_the_budget_and_sequential_validation_defaults(tmp_path: Path) -> None:
    s = load_settings(_write(tmp_path, render_template()))
    assert (s.budget.usd, s.budget.tokens, s.budget.requests) == (0.0, 0, 0)
    assert s.training.validation == "sequential" and s.training.candidates == 4 and s.training.combine


def test_a_dollar_budget_for_an_unpriced_model_is_refused_naming_the_prices(tmp_path: Path) -> None:
    s = load_settings(
        _write(
            tmp_path, '[budget]\nusd = 2.0\n[llm]\nprices = { "gpt-4o" = { input = 2.5, output = 10.0 } }\n'
        )
    )
    why = unpriced_budget(s)
    assert why is not None and "[llm] prices" in why and "gpt-4o-mini" in why and "gpt-4o," not in why
    assert unpriced_budget(s, usd=0) is None  # --budget-usd 0 lifts it


def test_several_candidates_at_optimizer_temperature_zero_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="optimizer_temperature"):
        load_settings(_write(tmp_path, "[training]\ncandidates = 3\n"))
    s = load_settings(_write(tmp_path, "[training]\ncandidates = 3\n[llm]\noptimizer_temperature = 0.7\n"))
    assert s.training.candidates == 3


def test_a_negative_budget_names_the_key_and_an_example(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[budget\] tokens .* write e.g. tokens = 2000000"):
        load_settings(_write(tmp_path, "[budget]\ntokens = -5\n"))
