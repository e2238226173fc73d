"""What the bench scripts share: measuring in a child process on a fresh database, on each engine.

A bench script's `run()` calls `run_child(__file__, …)`, which starts the script again as a child with
DATABASE_URL and GUANXI_HOME set; the child sets Django up with `start_django()`, measures, and prints
one JSON line that `run_child` returns. Bench scripts put this folder on sys.path to import it, since
`guanxi bench` loads them by path; the leading underscore keeps it out of `guanxi bench`'s list.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parent.parent

T = TypeVar("T")


def on_each_engine(
    prefix: str, default_postgres_url: str, measure: Callable[[str, str], T]
) -> Iterator[tuple[str, T | None, str]]:
    """`measure(database_url, home)` on a SQLite file in a temporary GUANXI_HOME, then on PostgreSQL at
    GUANXI_BENCH_POSTGRES_URL (else `default_postgres_url`). Yields (engine, result, ""), or
    (engine, None, why) when the measurement failed, e.g. because PostgreSQL is not running."""
    targets = [
        ("sqlite", None),
        ("postgresql", os.environ.get("GUANXI_BENCH_POSTGRES_URL", default_postgres_url)),
    ]
    for engine, url in targets:
        with tempfile.TemporaryDirectory(prefix=prefix) as home:
            try:
                result = measure(url or f"sqlite:///{home}/bench.sqlite3", home)
            except RuntimeError as error:
                yield engine, None, str(error)
                continue
        yield engine, result, ""


def run_child(script: str, database_url: str, home: str, *args: str) -> dict:
    """Run `script` with `args` against `database_url`; its last line of output, as JSON.
    Raises RuntimeError with the child's last line of errors if it failed."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GUANXI_HOME": home,
        "DJANGO_SETTINGS_MODULE": "guanxi.config.settings",
        "LOG_LEVEL": "WARNING",
    }
    child = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, script, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        last = (child.stderr.strip().splitlines() or ["failed"])[-1]
        raise RuntimeError(last)
    return json.loads(child.stdout.strip().splitlines()[-1])


def start_django(*, fresh: bool) -> None:
    """In the child: set Django up; with `fresh`, on a database dropped and created anew, migrated."""
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    if fresh:
        from django.conf import settings
        from django.core.management import call_command

        fresh_database(settings.DATABASES["default"])
        call_command("migrate", verbosity=0)


def fresh_database(config: dict) -> None:
    """Remove the SQLite file, or drop and create the PostgreSQL database, named by `config`."""
    if not config["ENGINE"].endswith("postgresql"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{config['NAME']}{suffix}").unlink(missing_ok=True)
        return
    import psycopg
    from psycopg import sql

    admin = {
        "host": config.get("HOST") or "127.0.0.1",
        "port": config.get("PORT") or 5432,
        "user": config.get("USER") or "postgres",
        "password": config.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
        "connect_timeout": 5,
    }
    with psycopg.connect(**admin) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(config["NAME"]))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))


def percentile(values: list[float], percent: int) -> float:
    """The `percent`th percentile, interpolated between the measured values."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]
