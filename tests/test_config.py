from __future__ import annotations

from pathlib import Path

import pytest

from neonhub_nb.config import load_settings
from neonhub_nb.errors import ConfigError


def test_defaults_are_mock_mode_with_mock_connectors(tmp_path: Path) -> None:
    settings = load_settings({}, cwd=tmp_path)
    assert settings.mode == "mock"
    assert settings.use_mock_connectors is True
    assert settings.db_path == tmp_path / "data" / "neonhub.duckdb"


def test_default_store_lives_in_the_project_data_folder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "neonhub-nb"\n')
    (tmp_path / "notebooks").mkdir()
    settings = load_settings({}, cwd=tmp_path / "notebooks")
    assert settings.db_path == tmp_path / "data" / "neonhub.duckdb"


def test_live_mode_turns_connector_mocks_off_unless_asked(tmp_path: Path) -> None:
    assert load_settings({"NEONHUB_MODE": "live"}, cwd=tmp_path).use_mock_connectors is False
    kept = load_settings({"NEONHUB_MODE": "live", "USE_MOCK_CONNECTORS": "true"}, cwd=tmp_path)
    assert kept.use_mock_connectors is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEONHUB_MODE": "turbo"}, "NEONHUB_MODE: must be one of mock, live, replay"),
        ({"USE_MOCK_CONNECTORS": "maybe"}, "USE_MOCK_CONNECTORS: must be true or false"),
        ({"NEONHUB_MAX_COST_USD": "-1"}, "NEONHUB_MAX_COST_USD: must be at least 0.0"),
        ({"NEONHUB_MAX_COST_USD": "lots"}, "NEONHUB_MAX_COST_USD: must be a number"),
    ],
)
def test_bad_environment_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


def test_secrets_stay_out_of_repr() -> None:
    settings = load_settings({"OPENAI_API_KEY": "sk-test-abcdefghijklmnopqrstuvwx"})
    assert "sk-test" not in repr(settings)
    assert settings.live_available() == (True, "live mode is configured")
    assert load_settings({}).live_available()[0] is False
