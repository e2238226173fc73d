"""`guanxi serve`: Waitress and the worker it starts, stopped cleanly by SIGTERM or SIGINT.

systemd, Docker and supervisors stop a service with SIGTERM, whose default action ends Python on the
spot: the worker started beside the server was left running as an orphan. Here SIGTERM and SIGINT
both drain: the listening socket closes (no new connections), requests already received run to the
end and their answers are sent, the worker is asked to finish the jobs it is running (Huey's graceful
stop is SIGINT), all within one grace period; then whatever is left is stopped and serve exits 0.
A job the grace period cuts stays "running" with a stale heartbeat, and the sweeper
(guanxi.core.background.sweep_stale_jobs) re-queues it: nothing is lost. The kernel also sends the
worker SIGTERM if serve itself dies without cleaning up (SIGKILL, a crash), so it never outlives serve.
"""

import ctypes
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

PR_SET_PDEATHSIG = 1  # linux/prctl.h


class _Stop(SystemExit):
    """Raised by the signal handler; a SystemExit so Waitress's event loop lets it through."""


def _raise_stop(signum: int, frame: Any) -> None:
    raise _Stop(0)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_worker() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "guanxi", "worker"],
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )


def _busy(server: Any) -> bool:
    """Whether a connection has a request being read, run or answered."""
    return any(
        getattr(channel, "requests", None) or getattr(channel, "total_outbufs_len", 0)
        for channel in list(server._map.values())
    )


def serve(
    application: Callable,
    *,
    host: str,
    port: int,
    threads: int,
    with_worker: bool,
    grace: float,
    announce: Callable[[], None],
) -> None:
    """Serve until SIGTERM or SIGINT, then drain within `grace` seconds and return."""
    server: Any = create_server(application, host=host, port=port, threads=threads, ident="guanxi")
    worker = start_worker() if with_worker else None
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_stop)
    announce()
    try:
        server.asyncore.loop(
            timeout=server.adj.asyncore_loop_timeout, map=server._map, use_poll=server.adj.asyncore_use_poll
        )
    except _Stop:
        pass
    finally:
        # A second signal while draining must not cut the drain short with a traceback.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)
        deadline = time.monotonic() + grace
        wasyncore.dispatcher.close(server)  # the listening socket only; the wake-up trigger stays
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGINT)
        while _busy(server) and time.monotonic() < deadline:
            server.asyncore.loop(timeout=0.1, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1)
        server.task_dispatcher.shutdown(timeout=max(0.0, deadline - time.monotonic()))
        wasyncore.close_all(server._map)
        if worker is not None:
            _stop_worker(worker, max(0.0, deadline - time.monotonic()))


def _stop_worker(worker: subprocess.Popen, grace: float) -> None:
    try:
        worker.wait(timeout=grace)
        return
    except subprocess.TimeoutExpired:
        worker.terminate()  # Huey stops at once on SIGTERM; the cut job is the sweeper's
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
