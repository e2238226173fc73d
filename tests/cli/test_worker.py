"""The real queue: a job started by the web side is run by a separate `guanxi worker` process,
through Huey's SQLite storage (the embedded default) and through Redis (when REDIS_URL is set)."""

import sqlite3
import subprocess
import sys
import time

import pytest
import redis

from tests.cli.test_cli import run_guanxi

START_JOB = """
import django
django.setup()
from django.db import transaction
from guanxi.core.background import start_job
with transaction.atomic():
    job = start_job("demo.load", params={"customers": 20})
print(job.pk)
"""


def _job_state(home) -> str:
    with sqlite3.connect(home / "guanxi.sqlite3") as database:
        row = database.execute("SELECT state FROM core_job ORDER BY id DESC LIMIT 1").fetchone()
    return row[0] if row else ""


def _run_through_worker(home, **env: str) -> tuple[str, str]:
    """The state the job ended in, and what the worker logged."""
    assert run_guanxi("migrate", home=home, **env).returncode == 0
    environment = {"GUANXI_HOME": str(home), "DJANGO_SETTINGS_MODULE": "guanxi.config.settings", **env}
    started = subprocess.run(  # noqa: S603
        [sys.executable, "-c", START_JOB], capture_output=True, text=True, env=environment, check=False
    )
    assert started.returncode == 0, started.stderr
    assert _job_state(home) == "queued"  # nothing ran it yet: the queue only wakes a worker
    worker = subprocess.Popen(
        [sys.executable, "-m", "guanxi", "worker"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while _job_state(home) in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        worker.terminate()
        _out, log = worker.communicate(timeout=30)
    return _job_state(home), log.decode()


def test_a_worker_process_runs_queued_jobs_from_the_embedded_queue(tmp_path):
    state, log = _run_through_worker(tmp_path)
    assert state == "succeeded"
    assert log.count("Huey consumer started") == 1  # each line once, not once per handler
    with sqlite3.connect(tmp_path / "guanxi.sqlite3") as database:
        assert database.execute("SELECT COUNT(*) FROM accounts_businessunit").fetchone()[0] == 2


def test_a_worker_process_runs_queued_jobs_through_redis(tmp_path):
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379 (CI starts one)")
    assert _run_through_worker(tmp_path, REDIS_URL=url)[0] == "succeeded"
