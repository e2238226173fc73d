"""Whole-database dumps and restores for the durability tests, on SQLite (the backup API and
iterdump, as `.backup` and `.dump` do) and PostgreSQL (pg_dump and pg_restore)."""

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from django.core.management.color import no_style
from django.db import connection


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed")
    return path


def _pg_args() -> list[str]:
    conf = connection.settings_dict
    args = ["-h", conf["HOST"] or "127.0.0.1", "-U", conf["USER"] or "postgres"]
    if conf.get("PORT"):
        args += ["-p", str(conf["PORT"])]
    return args


def _pg_env() -> dict[str, str]:
    return {**os.environ, "PGPASSWORD": connection.settings_dict.get("PASSWORD") or ""}


def dump_text() -> str:
    """Every row of the database as SQL text (SQLite `.dump`, `pg_dump`)."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return "\n".join(connection.connection.iterdump())
    return subprocess.run(  # noqa: S603 (the installed PostgreSQL tools, on the test database)
        [_tool("pg_dump"), *_pg_args(), "--data-only", connection.settings_dict["NAME"]],
        check=True,
        capture_output=True,
        text=True,
        env=_pg_env(),
    ).stdout


def backup(folder: Path):
    """A backup of the whole database, to restore with `restore`."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        copy = sqlite3.connect(":memory:")
        connection.connection.backup(copy)
        return copy
    path = folder / "backup.dump"
    subprocess.run(  # noqa: S603 (the installed PostgreSQL tools, on the test database)
        [
            _tool("pg_dump"),
            *_pg_args(),
            "-Fc",
            "--data-only",
            "-f",
            str(path),
            connection.settings_dict["NAME"],
        ],
        check=True,
        env=_pg_env(),
    )
    return path


def restore(saved) -> None:
    """Put the database back as `backup` saved it (the rows since are gone)."""
    if connection.vendor == "sqlite":
        saved.backup(connection.connection)
        return
    tables = connection.introspection.table_names(include_views=False)
    with connection.cursor() as cursor:
        for statement in connection.ops.sql_flush(no_style(), tables, allow_cascade=True):
            cursor.execute(statement)
    connection.close()
    subprocess.run(  # noqa: S603 (the installed PostgreSQL tools, on the test database)
        [
            _tool("pg_restore"),
            *_pg_args(),
            "--data-only",
            "--disable-triggers",
            "-d",
            connection.settings_dict["NAME"],
            str(saved),
        ],
        check=True,
        env=_pg_env(),
    )
