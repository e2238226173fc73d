"""What the bench scripts share: measuring in a child process, on each engine, on a fresh database or on
a copy of the bench dataset.

A bench script's `run()` calls `run_child(__file__, …)`, which starts the script again as a child with
DATABASE_URL and GUANXI_HOME set; the child sets Django up with `start_django()`, measures, and prints
one JSON line that `run_child` returns. Bench scripts put this folder on sys.path to import it, since
`guanxi bench` loads them by path; the leading underscore keeps it out of `guanxi bench`'s list.

The bench dataset (`on_each_dataset`) is the demo shop at a given scale with metrics computed, a tag on
every fifth customer and a behavioural event for every buyer. Loading a million customers takes a
quarter of an hour, so it is built once per scale and DATASET_VERSION and kept: as a PostgreSQL
template database `guanxi_bench_ds_<customers>_v<version>` and as a SQLite file under GUANXI_BENCH_CACHE
(default ~/.cache/guanxi-bench). Each measurement runs on a copy, migrated to the current schema, so
the benches may write. `python bench/_support.py --drop-datasets` removes them all.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the guanxi package, when run as a script from any folder
from guanxi.demo.reference import HOME_TEXTILES  # noqa: E402  (plain data, no Django set-up needed)

# 3: product categories are named in Chinese (毛巾浴巾), not by codes (home_textiles).
DATASET_VERSION = 3  # bump when the demo generator or `_prepare_dataset` makes different data
DATASET_TAG = "喜欢棉质"  # the tag on every fifth customer
DATASET_CACHE = Path(os.environ.get("GUANXI_BENCH_CACHE", Path.home() / ".cache" / "guanxi-bench"))
# GUANXI_BENCH_ENGINES=postgresql (or sqlite) measures one engine only.
ENGINES = os.environ.get("GUANXI_BENCH_ENGINES", "sqlite,postgresql").split(",")
POSTGRES_SERVER = os.environ.get("GUANXI_BENCH_POSTGRES_SERVER", "postgres://postgres@127.0.0.1:5432")

T = TypeVar("T")


def on_each_engine(
    prefix: str, default_postgres_url: str, measure: Callable[[str, str], T]
) -> Iterator[tuple[str, T | None, str]]:
    """`measure(database_url, home)` on a SQLite file in a temporary GUANXI_HOME, then on PostgreSQL at
    GUANXI_BENCH_POSTGRES_URL (else `default_postgres_url`). Yields (engine, result, ""), or
    (engine, None, why) when the measurement failed, e.g. because PostgreSQL is not running."""
    targets = [
        (engine, url)
        for engine, url in (
            ("sqlite", None),
            ("postgresql", os.environ.get("GUANXI_BENCH_POSTGRES_URL", default_postgres_url)),
        )
        if engine in ENGINES
    ]
    for engine, url in targets:
        with tempfile.TemporaryDirectory(prefix=prefix) as home:
            try:
                result = measure(url or f"sqlite:///{home}/bench.sqlite3", home)
            except RuntimeError as error:
                yield engine, None, str(error)
                continue
        yield engine, result, ""


def on_each_dataset(
    prefix: str, customers: int, measure: Callable[[str, str], T]
) -> Iterator[tuple[str, T | None, str]]:
    """`measure(database_url, home)` on a copy of the bench dataset at `customers` scale, on SQLite and
    then on PostgreSQL at GUANXI_BENCH_POSTGRES_SERVER; yields as `on_each_engine` does. The dataset is
    built first when this scale has none yet (the progress goes to stderr)."""
    for engine in ENGINES:
        with tempfile.TemporaryDirectory(prefix=prefix) as home:
            work = None
            try:
                work = _working_copy(engine, customers, home)
                result = measure(work, home)
            except RuntimeError as error:
                yield engine, None, str(error)
                continue
            finally:
                if work and engine == "postgresql":
                    _drop_database(work.rsplit("/", 1)[1])
        yield engine, result, ""


def _dataset_name(customers: int) -> str:
    """Named by scale and DATASET_VERSION: bump it when the demo generator's data changes. Schema changes
    need no bump: a kept dataset is migrated before use, data migrations included."""
    return f"guanxi_bench_ds_{customers}_v{DATASET_VERSION}"


def _working_copy(engine: str, customers: int, home: str) -> str:
    """A database URL for a fresh copy of the dataset, built first if missing."""
    kept = ensure_dataset(engine, customers, home)
    if engine == "sqlite":
        shutil.copyfile(kept, Path(home) / "bench.sqlite3")
        return f"sqlite:///{home}/bench.sqlite3"
    for stale in _postgres_databases("guanxi_bench_work_%"):
        if not Path(f"/proc/{stale.rsplit('_', 1)[1]}").exists():  # left by a bench that was killed
            _drop_database(stale)
    work = f"guanxi_bench_work_{os.getpid()}"
    _drop_database(work)
    _admin_execute(f'CREATE DATABASE "{work}" TEMPLATE "{kept}"')
    return f"{POSTGRES_SERVER}/{work}"


def ensure_dataset(engine: str, customers: int, home: str) -> str:
    """Build the dataset on `engine` unless it is kept already; the SQLite file or PostgreSQL database."""
    name = _dataset_name(customers)
    if engine == "sqlite":
        kept = DATASET_CACHE / f"{name}.sqlite3"
        if not kept.exists():
            DATASET_CACHE.mkdir(parents=True, exist_ok=True)
            for old in DATASET_CACHE.glob(f"guanxi_bench_ds_{customers}_*"):
                old.unlink()
            building = DATASET_CACHE / f"{name}.building.sqlite3"
            _build_dataset(f"sqlite:///{building}", home, customers)
            building.rename(kept)
        run_child(__file__, f"sqlite:///{kept}", home, "--migrate")
        return str(kept)
    existing = _postgres_databases(f"guanxi_bench_ds_{customers}_%")
    if name not in existing:
        for old in existing:
            _drop_database(old)
        _drop_database(f"{name}_building")
        _build_dataset(f"{POSTGRES_SERVER}/{name}_building", home, customers)
        _admin_execute(f'ALTER DATABASE "{name}_building" RENAME TO "{name}"')
    run_child(__file__, f"{POSTGRES_SERVER}/{name}", home, "--migrate")
    return name


def _build_dataset(url: str, home: str, customers: int) -> None:
    print(f"Building the bench dataset of {customers:,} customers at {url} …", file=sys.stderr)
    run_child(__file__, url, home, "--prepare", str(customers))


def _prepare_dataset(customers: int) -> dict:
    """In the child: the demo shop, its metrics, the bench tag and events, planner statistics."""
    start_django(fresh=True)
    from django.db import connection

    from guanxi.analytics.refresh import refresh_metrics
    from guanxi.demo import load_demo
    from guanxi.demo.loader import REFERENCE_ANCHOR

    load_demo(customers, anchor=REFERENCE_ANCHOR)
    refresh_metrics(full=True)
    _add_tag_and_events(REFERENCE_ANCHOR)
    _settle(connection)
    return {"customers": customers}


def _migrate_kept() -> dict:
    """In the child: bring a kept dataset to the current schema once, so that copies need not (a new
    index over ten million lines takes a while), and refresh the planner's statistics if it changed."""
    start_django(fresh=False)
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        call_command("migrate", verbosity=0)
        _settle(connection)
    return {"migrations": len(pending)}


def _settle(connection) -> None:
    """What autovacuum does some minutes after a bulk load: planner statistics and, on PostgreSQL, the
    visibility map that lets a count read an index without visiting the table."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM (ANALYZE)")
        else:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _add_tag_and_events(now) -> None:
    """A tag on every fifth customer and, for every customer with an order, one browse or add-to-cart
    event in the 120 days before `now`, from the store of their first order."""
    import random
    from datetime import timedelta

    from django.db import transaction

    from guanxi.commerce.models import Event, Order, Store
    from guanxi.customers.models import Customer, CustomerTag, Tag

    rng = random.Random(5)  # noqa: S311 (bench data)
    with transaction.atomic():
        tag = Tag.objects.create(name=DATASET_TAG)
        CustomerTag.objects.bulk_create(
            (
                CustomerTag(customer_id=pk, tag=tag)
                for pk in Customer.objects.values_list("pk", flat=True).iterator(chunk_size=20_000)
                if pk % 5 == 0
            ),
            batch_size=5000,
        )
        first_store = dict(
            Order.objects.filter(customer__isnull=False)
            .values_list("customer_id", "store_id")
            .order_by("customer_id", "-pk")
            .iterator(chunk_size=20_000)
        )
        stores = {store.pk: (store.unit_id, store.source) for store in Store.objects.all()}
        Event.objects.bulk_create(
            (
                Event(
                    store_id=store_id,
                    unit_id=stores[store_id][0],
                    customer_id=customer_id,
                    source=stores[store_id][1],
                    external_id=f"bench-{customer_id}",
                    kind=rng.choice(["browse", "browse", "add_to_cart"]),
                    properties={"category": HOME_TEXTILES},
                    occurred_at=now - timedelta(days=rng.randint(0, 120)),
                )
                for customer_id, store_id in first_store.items()
            ),
            batch_size=5000,
        )


def _admin_execute(statement: str, *params: object) -> list[tuple]:
    import psycopg

    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True, connect_timeout=5) as connection:
        cursor = connection.execute(statement, params or None)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def _postgres_databases(pattern: str) -> list[str]:
    try:
        rows = _admin_execute("SELECT datname FROM pg_database WHERE datname LIKE %s", pattern)
    except Exception as error:
        raise RuntimeError(f"PostgreSQL at {POSTGRES_SERVER}: {error}") from error
    return [name for (name,) in rows]


def _drop_database(name: str) -> None:
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_datasets() -> list[str]:
    """Remove every kept bench dataset; the names removed."""
    removed = [path.name for path in DATASET_CACHE.glob("guanxi_bench_ds_*")]
    shutil.rmtree(DATASET_CACHE, ignore_errors=True)
    try:
        names = _postgres_databases("guanxi_bench_ds_%")
    except RuntimeError:
        names = []
    for name in names:
        _drop_database(name)
    return removed + names


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


def dataset_roles() -> list[tuple[str, object]]:
    """In a child on a migrated dataset copy: the users the page benches measure as, by label — the
    group manager (sees every unit) and a unit head (sees one; scoping on every read)."""
    from django.core.management import call_command

    from guanxi.accounts.models import User

    call_command("migrate", verbosity=0)
    users = (
        ("manager", User.objects.filter(role="group_manager").first()),
        ("unit", User.objects.filter(role="unit_head").first()),
    )
    return [(label, user) for label, user in users if user is not None]


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


if __name__ == "__main__" and sys.argv[1:2] == ["--prepare"]:
    print(json.dumps(_prepare_dataset(int(sys.argv[2]))))
elif __name__ == "__main__" and sys.argv[1:] == ["--migrate"]:
    print(json.dumps(_migrate_kept()))
elif __name__ == "__main__" and sys.argv[1:2] == ["--build"]:
    # --build CUSTOMERS [ENGINE ...]: build ahead of the benches, e.g. one engine per terminal
    for engine in sys.argv[3:] or ["sqlite", "postgresql"]:
        with tempfile.TemporaryDirectory(prefix="gx-bench-build-") as home:
            print(f"{engine}: {ensure_dataset(engine, int(sys.argv[2]), home)}")
elif __name__ == "__main__" and sys.argv[1:] == ["--drop-datasets"]:
    for removed in drop_datasets():
        print(f"removed {removed}")
