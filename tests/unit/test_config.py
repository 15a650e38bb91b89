from __future__ import annotations

from pathlib import Path

import pytest

from assay.config import load_settings
from assay.errors import ConfigError


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"ASSAY_PORT": "70000"}, "port"),
        ({"ASSAY_PORT": "eighty"}, "port"),
        ({"ASSAY_DATABASE_URL": "mysql://x/y"}, "database_url"),
        ({"ASSAY_LOG_LEVEL": "loud"}, "log_level"),
        ({"ASSAY_KMS": "vault"}, "kms"),
        ({"ASSAY_CHECKPOINT_INTERVAL_S": "60"}, "checkpoint_interval_s"),
    ],
)
def test_a_wrong_value_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], setting: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert setting in caught.value.message
    assert f"ASSAY_{setting.upper()}" in caught.value.message
    assert caught.value.hint


def test_defaults_use_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d")
    assert settings.sqlalchemy_url == f"sqlite:///{(tmp_path / 'd' / 'assay.db').resolve()}"
    assert settings.is_sqlite


def test_plain_postgresql_url_uses_psycopg3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_DATABASE_URL", "postgresql://u@h/db")
    assert load_settings().sqlalchemy_url == "postgresql+psycopg://u@h/db"


def test_toml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "assay.toml").write_text('port = 9001\nlog_level = "debug"\n')
    monkeypatch.setenv("ASSAY_LOG_LEVEL", "error")
    settings = load_settings()
    assert settings.port == 9001
    assert settings.log_level == "error"


def test_unknown_toml_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "assay.toml").write_text("prot = 9001\n")
    with pytest.raises(ConfigError, match="prot"):
        load_settings()


def test_malformed_toml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "assay.toml").write_text("port = = 1\n")
    with pytest.raises(ConfigError, match=r"assay\.toml"):
        load_settings()


def test_explicit_config_path_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSAY_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="ASSAY_CONFIG"):
        load_settings()
