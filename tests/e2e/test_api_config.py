"""Settings from the environment and a TOML file; JSON request logs that never show a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import postmeter as pm
from postmeter.api import logs
from postmeter.api.app import create_app
from postmeter.config import CONFIG_ENV, Settings
from postmeter.service import keys


def test_settings_come_from_a_toml_file_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "postmeter.toml"
    config.write_text('database_url = "sqlite:///from-file.db"\nport = 9090\ntick_interval_s = 2\n')
    monkeypatch.setenv(CONFIG_ENV, str(config))
    monkeypatch.delenv("POSTMETER_DATABASE_URL", raising=False)
    monkeypatch.setenv("POSTMETER_PORT", "7070")
    settings = Settings()
    assert (settings.database_url, settings.port, settings.tick_interval_s) == (
        "sqlite:///from-file.db",
        7070,
        2.0,
    )


def test_a_missing_config_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "nowhere.toml"))
    with pytest.raises(FileNotFoundError, match=r"nowhere\.toml"):
        Settings()


def test_each_request_logs_one_json_line_with_its_id_and_never_the_key(
    ctx: pm.Context, capfd: pytest.CaptureFixture[str]
) -> None:
    secret = keys.create_key(ctx, pm.OPERATOR, "k", "ops", role="operator").secret
    assert secret is not None
    logs.configure("INFO")
    with TestClient(create_app(ctx, tick_interval_s=None)) as client:
        answer = client.get(
            "/v1/units", headers={"Authorization": f"Bearer {secret}", "X-Request-ID": "abc123"}
        )
    assert answer.headers["X-Request-ID"] == "abc123"
    err = capfd.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == "abc123"]
    assert len(mine) == 1
    assert (mine[0]["route"], mine[0]["status"], mine[0]["method"]) == ("/v1/units", 200, "GET")
    assert secret not in err
    assert secret.split("_", 2)[2] not in err  # the secret part may itself hold "_"
