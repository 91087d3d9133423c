"""The load and crash tests of bench/ at CI size, on SQLite and PostgreSQL, against a real
gunicorn with 2 workers on loopback: every acknowledged submission is stored exactly once,
with all its answers, and nothing answers 5xx — also when the server is SIGKILLed mid-load.
bench/load_test.py and bench/crash_test.py run the same code at full size (20,000 × 50)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import loadgen

SUBMISSIONS, CLIENTS, DEADLINE = 1_000, 20, 120


@pytest.fixture
def site(database_url: str, tmp_path: Path):
    instance = tmp_path / "instance"
    instance.mkdir()
    loadgen.prepare_database(database_url, instance)
    return database_url, instance


@pytest.mark.slow
def test_load_every_acknowledged_submission_is_stored(site):
    url, instance = site
    with loadgen.Server(url, instance, workers=2) as server:
        result = loadgen.run_closed(server.port, SUBMISSIONS, CLIENTS, DEADLINE)
    print(result.summary())
    assert result.server_errors == 0, result.errors
    assert result.statuses["POST 303"] == SUBMISSIONS, result.summary()
    assert len(result.acked) == SUBMISSIONS
    audit = loadgen.audit(url, result)
    assert audit.responses == audit.keys == SUBMISSIONS
    assert audit.missing == [] and audit.wrong_answers == []
    assert audit.orphans == 0 and audit.empty == 0


@pytest.mark.slow
def test_crash_loses_no_acknowledged_submission(site):
    url, instance = site
    report = loadgen.crash_round(url, instance, total=600, clients=CLIENTS, kill_after_acked=200, deadline_s=DEADLINE)
    killed = report.before_kill
    print(f"killed after {len(killed.acked)} acknowledged; down {report.down_seconds:.1f} s; {report.final.summary()}")
    # right after SIGKILL, before any restart: everything acknowledged is there, whole
    assert len(killed.acked) >= 200
    assert report.audit_after_kill.missing == []
    assert report.audit_after_kill.wrong_answers == []
    assert report.audit_after_kill.empty == 0 and report.audit_after_kill.orphans == 0
    # the kill hit requests in flight, and their retries (same submission ids) were absorbed
    assert report.final.statuses["POST error"] + report.final.statuses["GET error"] > 0
    final = report.audit_final
    assert final.missing == [] and final.wrong_answers == [] and final.empty == 0 and final.orphans == 0
    assert final.responses == final.keys == final.stored_sent
    assert len(report.final.acked) == 600, report.final.summary()
    assert report.final.server_errors == 0, report.final.errors


def test_workers_starting_together_share_one_secret(tmp_path):
    """Without SURVEY_SECRET_KEY, workers create instance/secret_key at start: all must end
    up with the same one, or a form rendered by one worker is refused by another."""
    code = "import sys; from survey import create_app; print(create_app().config['SECRET_KEY'])"
    env = loadgen.server_env("sqlite://", tmp_path)
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, cwd=loadgen.ROOT, stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    secrets = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(secrets) == 1 and len(secrets.pop()) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".secret_key.*"))
