"""Reloading the sharing rules in a running hub, and the ``hub policy`` commands."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import app
from hub.disclosure.models import LogEntry
from hub.runtime import Hub, reload_marker
from hub.settings import Settings, get_settings
from policies.engine import MODEL_FILE, RULES_FILE

POLICIES = Path(__file__).resolve().parents[2] / "policies"
EXTRA = "p, X-9, *, other, gp, involvement, referral, consent, required, allow, -\n"


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    for name in (MODEL_FILE, RULES_FILE):
        shutil.copy(POLICIES / name, folder / name)
    return folder


@pytest.fixture
def running(settings: Settings, policy_dir: Path, keyring: object) -> Iterator[Hub]:
    hub = Hub.start(settings.model_copy(update={"policy_dir": policy_dir}), keyring=keyring)  # type: ignore[arg-type]
    yield hub
    hub.close()


@pytest.fixture
def cli_env(
    running: Hub, policy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    env = {
        "HUB_DATABASE_URL": running.settings.sqlalchemy_url,
        "HUB_DATA_DIR": str(running.settings.data_dir),
        "HUB_POLICY_DIR": str(policy_dir),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def last_event(hub: Hub) -> dict[str, object]:
    with hub.sessions() as session:
        row = session.execute(select(LogEntry).order_by(LogEntry.seq.desc()).limit(1)).scalar_one()
        return json.loads(row.body)  # type: ignore[no-any-return]


def test_a_running_hub_picks_up_hub_policy_reload(
    running: Hub, policy_dir: Path, cli_env: dict[str, str]
) -> None:
    old = running.current_rules().version
    with (policy_dir / RULES_FILE).open("a", encoding="utf-8") as rules:
        rules.write(EXTRA)
    assert running.current_rules().version == old, "an edit alone changes nothing"

    result = CliRunner().invoke(app, ["policy", "reload"])

    assert result.exit_code == 0, result.output
    assert running.current_rules().version != old
    assert "X-9" in {r.id for r in running.current_rules().rules}
    entry = last_event(running)
    assert entry["event"] == "hub:policy:reloaded"
    assert entry["policy_version"] == running.current_rules().version


def test_a_malformed_file_is_refused_and_the_previous_rules_stay(
    running: Hub, policy_dir: Path, cli_env: dict[str, str]
) -> None:
    old = running.current_rules().version
    with (policy_dir / RULES_FILE).open("a", encoding="utf-8") as rules:
        rules.write(
            "p, X-9, *, other, wizard, involvement, referral, consent, required, allow, -\n"
        )

    result = CliRunner().invoke(app, ["policy", "reload"])
    reload_marker(running.settings).touch()  # even if a hub is told to reload, it keeps the old

    said = " ".join(result.output.split())
    assert result.exit_code == 2
    line = len((policy_dir / RULES_FILE).read_text(encoding="utf-8").splitlines())
    assert f"line {line}: unknown role 'wizard'" in said and "previous version stays" in said
    assert running.current_rules().version == old
    entry = last_event(running)
    assert entry["event"] == "hub:policy:refused"
    assert "wizard" in str(entry["reason"])


def test_hub_policy_test_runs_the_shipped_table(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app, ["policy", "test", str(POLICIES / "expected_decisions.csv")], env={"COLUMNS": "200"}
    )

    assert result.exit_code == 0, result.output
    assert "expectations hold" in result.output


def test_hub_policy_test_fails_on_a_wrong_expectation(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    table = (POLICIES / "expected_decisions.csv").read_text(encoding="utf-8")
    wrong = table.replace(
        "expired consent never permits,health,council,lead-professional,"
        "team-around-the-family,-,expired,-,deny",
        "expired consent never permits,health,council,lead-professional,"
        "team-around-the-family,-,expired,-,disclosed",
    )
    assert wrong != table
    (tmp_path / "wrong.csv").write_text(wrong, encoding="utf-8")

    result = CliRunner().invoke(
        app, ["policy", "test", str(tmp_path / "wrong.csv")], env={"COLUMNS": "200"}
    )

    assert result.exit_code == 1
    assert "expected disclosed, got deny" in " ".join(result.output.split())
