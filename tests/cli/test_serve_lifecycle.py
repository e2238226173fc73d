"""`guanxi serve` stopped as systemd, Docker and supervisors stop it (SIGTERM): it exits 0, leaves no
child process behind, and the job its worker was running when the grace period ran out is not lost."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.cli.test_cli import INHERITED_SETTINGS, run_guanxi
from tests.cli.test_worker import START_JOB

SWEEP_LATER = """
import django
django.setup()
import time_machine
from django.utils import timezone
from guanxi.core.background import STALE_AFTER, sweep_stale_jobs
with time_machine.travel(timezone.now() + STALE_AFTER * 2, tick=False):
    print(sweep_stale_jobs())
"""


def _environment(home: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key not in INHERITED_SETTINGS}
    environment.update(GUANXI_HOME=str(home), DJANGO_SETTINGS_MODULE="guanxi.config.settings")
    return environment


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> set[int]:
    """Every live descendant of pid, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":  # a zombie has exited already
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _job_state(home: Path, job_id: int) -> str:
    return _job_row(home, job_id)[0]


def _job_row(home: Path, job_id: int) -> tuple[str, int]:
    with sqlite3.connect(home / "guanxi.sqlite3") as database:
        return database.execute("SELECT state, attempts FROM core_job WHERE id = ?", [job_id]).fetchone()


def _wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as reply:
            return reply.status == 200
    except OSError:
        return False


def test_sigterm_stops_serve_and_its_worker_and_the_cut_job_is_requeued(tmp_path):
    assert run_guanxi("migrate", home=tmp_path).returncode == 0
    environment = _environment(tmp_path)
    port = _free_port()
    serve = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "guanxi", "serve", "--port", str(port), "--threads", "2", "--grace", "2"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert _wait(lambda: _answers(port), 120), serve.stderr
        worker_pids = _children(serve.pid)
        assert len(worker_pids) == 1  # the worker (thread workers: no processes of its own)
        # A job long enough that a 2 s grace period cuts it.
        started = subprocess.run(  # noqa: S603
            [sys.executable, "-c", START_JOB.replace('"customers": 20', '"customers": 5000')],
            capture_output=True,
            text=True,
            env=environment,
            check=False,
        )
        assert started.returncode == 0, started.stderr
        job_id = int(started.stdout.strip())
        assert _wait(lambda: _job_state(tmp_path, job_id) == "running", 120)
        serve.send_signal(signal.SIGTERM)
        out, err = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
    assert serve.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    assert b"Stopped." in out
    assert not _answers(port)
    assert [pid for pid in worker_pids if _alive(pid)] == []
    assert _job_state(tmp_path, job_id) == "running"  # cut by the grace period: no heartbeat will come

    # Nothing is lost: once its heartbeat is stale the sweeper re-queues it and a worker runs it again
    # (to its end: the demo load, not resumable, then refuses a half-loaded database, which is its
    # answer to a second run).
    swept = subprocess.run(  # noqa: S603
        [sys.executable, "-c", SWEEP_LATER], capture_output=True, text=True, env=environment, check=False
    )
    assert (swept.returncode, swept.stdout.strip()) == (0, "1"), swept.stderr
    worker = subprocess.Popen(
        [sys.executable, "-m", "guanxi", "worker"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait(lambda: _job_state(tmp_path, job_id) not in ("queued", "running"), 240)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert _job_row(tmp_path, job_id)[1] == 2


def test_sigterm_with_no_work_exits_at_once(tmp_path):
    assert run_guanxi("migrate", home=tmp_path).returncode == 0
    port = _free_port()
    serve = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "guanxi", "serve", "--port", str(port), "--grace", "30"],
        env=_environment(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert _wait(lambda: _answers(port), 120)
        worker_pids = _children(serve.pid)
        began = time.monotonic()
        serve.send_signal(signal.SIGINT)
        _out, err = serve.communicate(timeout=60)
        waited = time.monotonic() - began
    finally:
        if serve.poll() is None:
            serve.kill()
    assert serve.returncode == 0, err.decode()
    assert [pid for pid in worker_pids if _alive(pid)] == []
    # The idle worker stops as soon as it is asked, well inside the 30 s grace period.
    assert waited < 30
