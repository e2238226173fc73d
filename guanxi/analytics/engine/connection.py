"""One way to talk to ClickHouse, whichever runs it: a server or cluster over HTTP (clickhouse-connect)
or chDB, the ClickHouse engine inside this process (tests, a laptop, a single worker).

Both take the same SQL and bind values the same way, server-side: `{name:Type}` placeholders and a
dict of values, so no user value is ever spliced into SQL text. Results come back as Arrow tables,
turned into numpy columns without a Python object per value.
"""

import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

try:
    import pyarrow as pa
except ImportError as missing:  # the engine is an optional extra (ADR 0036)
    raise ImproperlyConfigured(
        "GUANXI_ANALYTICS_ENGINE=clickhouse needs the engine packages: pip install 'guanxi[clickhouse]'"
    ) from missing

from guanxi.analytics.engine import CLICKHOUSE, EMBEDDED, engine_name, engine_selected

__all__ = ["CLICKHOUSE", "EMBEDDED", "Engine", "EngineUnavailableError", "engine_name", "engine_selected"]


class EngineUnavailableError(RuntimeError):
    """The engine's Python package is missing or its server cannot be reached."""


class Engine:
    """A ClickHouse connection; `url` is `chdb:PATH` or `http(s)://user:password@host:port/database`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        if url.startswith("chdb:"):
            try:
                import chdb.session  # type: ignore[import-untyped]
            except ImportError as error:  # pragma: no cover - requirements-dev.lock installs it
                raise EngineUnavailableError(
                    f"chDB cannot be imported ({error}): pip install 'guanxi[clickhouse]'"
                ) from error
            path = Path(url.removeprefix("chdb:").removeprefix("//") or "clickhouse")
            path.mkdir(parents=True, exist_ok=True)
            self.kind = "chdb"
            self._session: Any = chdb.session.Session(str(path))
            self._client: Any = None
        elif url.startswith(("http://", "https://")):
            try:
                import clickhouse_connect  # type: ignore[import-untyped]
            except ImportError as error:  # pragma: no cover
                raise EngineUnavailableError(
                    f"clickhouse-connect cannot be imported ({error}): pip install 'guanxi[clickhouse]'"
                ) from error
            parts = urlsplit(url)
            self.kind = "server"
            self._session = None
            try:
                self._client = clickhouse_connect.get_client(
                    host=parts.hostname or "localhost",
                    port=parts.port or (8443 if parts.scheme == "https" else 8123),
                    username=unquote(parts.username or "default"),
                    password=unquote(parts.password or ""),
                    database=parts.path.strip("/") or "default",
                    secure=parts.scheme == "https",
                )
            except Exception as error:
                raise EngineUnavailableError(
                    f"ClickHouse at {parts.hostname} cannot be reached: {error}"
                ) from error
        else:
            raise ImproperlyConfigured(
                f"GUANXI_CLICKHOUSE_URL must start with chdb:, http:// or https://, not {url!r}"
            )

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """A statement without a result (DDL, DELETE, INSERT … SELECT)."""
        with self._lock:
            if self._session is not None:
                self._session.query(sql, "Null", params=_text_params(params))
            else:
                self._client.command(sql, parameters=params or None)

    def arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        with self._lock:
            if self._session is not None:
                result = self._session.query(sql, "ArrowTable", params=_text_params(params))
                return result if isinstance(result, pa.Table) else pa.table({})
            return self._client.query_arrow(sql, parameters=params or None, use_strings=True)

    def columns(self, sql: str, params: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
        """The result's columns as numpy arrays (NULLs of numbers as NaN)."""
        table = self.arrow(sql, params)
        return {
            name: table.column(name).to_numpy(zero_copy_only=False)
            if table.num_rows
            else np.zeros(0, dtype=_numpy_type(table.schema.field(name).type))
            for name in table.column_names
        }

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        table = self.arrow(sql, params)
        return table.column(0)[0].as_py() if table.num_rows else None

    def insert(self, table: str, data: pa.Table) -> None:
        """Append `data` (columns named as the table's) to `table`."""
        if not data.num_rows:
            return
        columns = ", ".join(data.column_names)
        with self._lock:
            if self._session is not None:
                # chDB reads the Arrow table in place: the Python() table function finds it by name.
                rows = data  # noqa: F841 (read by name by the query below)
                self._session.query(
                    f"INSERT INTO {table} ({columns}) SELECT {columns} FROM Python(rows)", "Null"
                )
            else:
                self._client.insert_arrow(table, data)

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
            elif self._client is not None:
                self._client.close()


def _text_params(params: dict[str, Any] | None) -> dict[str, str]:
    """Values as ClickHouse parses query parameters: text as is, arrays in its literal syntax
    (clickhouse-connect does this itself for a server)."""
    return {name: _text(value, top=True) for name, value in (params or {}).items()}


def _text(value: Any, top: bool = False) -> str:
    if isinstance(value, list | tuple):
        return "[" + ",".join(_text(item) for item in value) + "]"
    if value is None:
        return "\\N" if top else "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        if top:
            return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value)


def _numpy_type(arrow_type: pa.DataType) -> Any:
    try:
        return arrow_type.to_pandas_dtype()
    except NotImplementedError:
        return object


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    """The process's connection to the configured engine (chDB allows one open session per process:
    asking for another path closes the previous one)."""
    url = url or settings.GUANXI_CLICKHOUSE_URL
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("chdb:"):
                for other in [u for u in _engines if u.startswith("chdb:")]:
                    _engines.pop(other).close()
            engine = _engines[url] = Engine(url)
        return engine


def close_engines() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.close()
        _engines.clear()
