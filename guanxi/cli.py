"""The `guanxi` command: one entry point for demo, serve, worker, migrate, check and bench.

Problems a user can fix (bad DATABASE_URL, unreachable PostgreSQL or Redis, a port in
use) end with one clear line and exit code 2, never a traceback.
"""

import importlib.util
import os
import socket
import sys
from pathlib import Path
from typing import Annotated

# One BLAS thread: the models work on many small arrays, where OpenBLAS's thread pool spins
# against the web server and worker for the 2 cores and makes each step far slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer
from rich.console import Console

console = Console()
app = typer.Typer(
    help="Guanxi (关系): customer relationship platform for e-commerce merchants.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class UserFacingError(Exception):
    """A problem the user can fix; printed as one line."""


def fail(message: str) -> None:
    raise UserFacingError(message)


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.config.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as error:
        fail(f"Configuration error: {error}")


def require_database() -> None:
    from django.db import connection
    from django.db.utils import OperationalError

    try:
        connection.ensure_connection()
    except OperationalError as error:
        settings = connection.settings_dict
        where = settings.get("HOST") or settings.get("NAME")
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        fail(f"Cannot reach the database ({connection.vendor} at {where}): {reason}")


def require_redis() -> None:
    from django.conf import settings

    if not settings.REDIS_URL:
        return
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except (redis.RedisError, ValueError) as error:
        fail(f"Cannot reach Redis at REDIS_URL: {error}")


def require_free_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            fail(
                f"Cannot listen on {host}:{port}: {error.strerror or error}. Choose another port with --port."
            )


def require_migrated() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        fail("The database schema is missing or out of date: run `guanxi migrate` first")


def prepare(database: bool = True, redis: bool = False, migrated: bool = True) -> None:
    setup_django()
    if database:
        require_database()
    if redis:
        require_redis()
    if database and migrated:
        require_migrated()


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def manage(ctx: typer.Context) -> None:
    """Run any Django management command: guanxi manage <command> [options]."""
    setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["guanxi manage", *ctx.args])


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    prepare(migrated=False)
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1)


@app.command()
def check(
    deploy: Annotated[bool, typer.Option(help="Also run the production deployment checks.")] = False,
) -> None:
    """Run Django's system checks (with --deploy: the security checks for production settings)."""
    setup_django()
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    try:
        call_command("check", deploy=deploy, fail_level="WARNING")
    except SystemCheckError as error:
        console.print(str(error))
        raise typer.Exit(1) from None


@app.command()
def createadmin(
    username: Annotated[str, typer.Option(prompt=True)],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create a system administrator."""
    prepare()
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from guanxi.accounts import actions
    from guanxi.accounts.models import User
    from guanxi.accounts.roles import Role

    if User.objects.filter(username=username).exists():
        fail(f"A user named {username!r} already exists")
    try:
        validate_password(password)
    except ValidationError as error:
        fail("Password rejected: " + " ".join(error.messages))
    actions.ensure_organisation("Guanxi")
    actions.create_user(username=username, password=password, role=Role.SYSTEM_ADMIN)
    console.print(f"[green]Created system administrator {username}[/green]")


@app.command()
def createunit(
    code: Annotated[str, typer.Argument(help="Short code, e.g. home.")],
    name: Annotated[str, typer.Argument(help="Display name, e.g. 家居生活.")],
    organisation: Annotated[str, typer.Option(help="Organisation name, if none exists yet.")] = "Guanxi",
) -> None:
    """Create a business unit (业务板块), the scope that stores, orders and users belong to."""
    prepare()
    from guanxi.accounts import actions
    from guanxi.accounts.models import BusinessUnit

    if BusinessUnit.objects.filter(code=code).exists():
        fail(f"A business unit with code {code!r} already exists")
    actions.ensure_organisation(organisation)
    actions.create_business_unit(code=code, name=name)
    console.print(f"[green]Created business unit {code} ({name})[/green]")


@app.command()
def worker() -> None:
    """Run the background worker (Huey consumer) that executes queued jobs and periodic tasks."""
    prepare(redis=True)
    from django.core.management import call_command

    call_command("run_huey")


@app.command("service-mail")
def service_mail(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 2525,
) -> None:
    """Receive e-mail for the business units' support addresses over SMTP: each message opens a service
    ticket or is added to the one it answers; other recipients are refused."""
    prepare()
    require_free_port(host, port)
    import time

    from guanxi.service.mail_server import controller

    server = controller(host=host, port=port)
    server.start()
    console.print(f"Receiving support e-mail on [bold]{host}:{port}[/bold]  (Ctrl+C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    with_worker: Annotated[bool, typer.Option(help="Also start the background worker.")] = True,
    threads: Annotated[int, typer.Option(help="Request threads.")] = 8,
    grace: Annotated[
        float, typer.Option(min=0, help="Seconds that requests and jobs get to finish on SIGTERM or Ctrl+C.")
    ] = 30.0,
) -> None:
    """Serve the web UI and API with Waitress (a production WSGI server), plus the worker.

    SIGTERM or Ctrl+C stops accepting, lets running requests and jobs finish within --grace seconds,
    stops the worker and exits 0."""
    prepare(redis=True)
    require_free_port(host, port)
    run_server(host, port, with_worker, threads, grace)


def run_server(host: str, port: int, with_worker: bool, threads: int, grace: float = 30.0) -> None:
    from guanxi.config.wsgi import application
    from guanxi.web.serving import serve as serve_until_stopped

    serve_until_stopped(
        application,
        host=host,
        port=port,
        threads=threads,
        with_worker=with_worker,
        grace=grace,
        announce=lambda: console.print(
            f"Guanxi is running at [bold]http://{host}:{port}/[/bold]  (Ctrl+C to stop)"
        ),
    )
    console.print("Stopped.")


@app.command()
def demo(
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Exit after loading the data.")] = False,
    customers: Annotated[int, typer.Option(min=10, help="Number of demo customers.")] = 6000,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Create the database, load a realistic demo shop, and serve it with the worker."""
    # The demo's messaging channels point at the local fake gateways started below (127.0.0.1).
    os.environ.setdefault("GUANXI_ALLOW_PRIVATE_GATEWAYS", "1")
    # Unsubscribe links, gateway callbacks and webhook addresses point at the demo's own server.
    os.environ.setdefault("GUANXI_PUBLIC_URL", f"http://{host}:{port}")
    prepare(redis=not no_serve, migrated=False)
    if not no_serve:
        require_free_port(host, port)
    from django.conf import settings
    from django.core.management import call_command

    from guanxi.demo import messaging as demo_messaging
    from guanxi.demo.jobs import DEMO_JOB_KIND, demo_is_loaded, demo_logins

    for gateway_port in (demo_messaging.HTTP_PORT, demo_messaging.SMTP_PORT):
        require_free_port("127.0.0.1", gateway_port)
    gateways = demo_messaging.start_gateways(settings.GUANXI_HOME)
    call_command("migrate", interactive=False, verbosity=0)
    if demo_is_loaded():
        console.print("Demo data are already loaded; keeping them.")
    else:
        job = run_foreground_job(DEMO_JOB_KIND, {"customers": customers})
        console.print(f"Loaded {job.counts}")
        analysis = run_foreground_job("analytics.refresh", {"unit": None, "full": True})
        console.print(f"Computed customer metrics: {analysis.counts}")
        from guanxi.segments.actions import refresh_all_segments
        from guanxi.segments.ready_made import install_ready_made_segments

        install_ready_made_segments()
        refresh_all_segments()
        console.print("Installed and filled the ready-made segments.")
        console.print(
            f"Messaging channels, templates and history: {demo_messaging.install_demo_messaging(gateways)}"
        )
        from guanxi.demo.marketing import install_demo_marketing

        console.print(f"Marketing journeys and campaigns: {install_demo_marketing()}")
    console.print("\nDemo logins (password for all: [bold]guanxi-demo-2026[/bold]):")
    for username, role in demo_logins():
        console.print(f"  {username:<14} {role}")
    console.print(
        f"Fake SMS, WeChat and webhook gateways on http://127.0.0.1:{demo_messaging.HTTP_PORT}/, SMTP on "
        f"127.0.0.1:{demo_messaging.SMTP_PORT}; what they accept is logged to {settings.GUANXI_HOME}/gateways/ledger.jsonl"
    )
    if not no_serve:
        console.print(f"\nOpen http://{host}:{port}/ and sign in as [bold]manager[/bold].")
        run_server(host, port, with_worker=True, threads=8)
    gateways.stop()


def unit_by_code(code: str | None):
    from guanxi.accounts.models import BusinessUnit

    if code is None:
        return None
    unit = BusinessUnit.objects.filter(code=code).first()
    if unit is None:
        known = ", ".join(BusinessUnit.objects.values_list("code", flat=True)) or "none yet"
        fail(f"No business unit with code {code!r} (known: {known})")
    return unit


def run_foreground_job(kind: str, params: dict, unit=None):
    from guanxi.cli_progress import run_job_with_progress

    job = run_job_with_progress(kind, params, console, unit=unit)
    if job.state != job.State.SUCCEEDED:
        fail(f"{kind} failed: {job.message}")
    return job


@app.command("import")
def import_file(
    kind: Annotated[str, typer.Argument(help="What the file is: online-retail, … (see --help).")],
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, CSV.GZ or XLSX file.")],
    unit: Annotated[str, typer.Option(help="Code of the business unit the orders belong to.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would happen; change nothing.")
    ] = False,
    store: Annotated[str | None, typer.Option(help="Source of the store to import into.")] = None,
    errors: Annotated[Path | None, typer.Option(help="Write the row-level error report (CSV) here.")] = None,
    mapping: Annotated[
        str | None,
        typer.Option(
            help="Column mapping of a generic import: 'header=target,…' (targets: name, gender, "
            "identity:phone, identity:email, external_id, placed_at, total_amount…)."
        ),
    ] = None,
    mapping_name: Annotated[
        str | None, typer.Option(help="Name of a column mapping saved on the import page.")
    ] = None,
) -> None:
    """Import orders or customers from a file; re-importing the same file adds nothing."""
    prepare()
    from guanxi.commerce.importers import IMPORT_KINDS
    from guanxi.commerce.models import ImportRun

    kind = kind.replace("-", "_")
    if kind not in IMPORT_KINDS:
        fail(f"Unknown import kind {kind!r}; known: {', '.join(sorted(IMPORT_KINDS))}")
    target = unit_by_code(unit)
    params = {"kind": kind, "path": str(path.resolve()), "dry_run": dry_run, "unit_id": target.pk}
    if store:
        params["store_source"] = store
    if mapping and mapping_name:
        fail("Give --mapping or --mapping-name, not both.")
    if mapping:
        params["mapping"] = parse_mapping(mapping)
    if mapping_name:
        params["mapping_name"] = mapping_name
    job = run_foreground_job("commerce.import", params, unit=target)
    run = ImportRun.objects.get(pk=job.counts["import_run"])
    summarise_import(run, errors)


def parse_mapping(text: str) -> dict[str, str]:
    """'手机=identity:phone,姓名=name' → {header: target}; the importer checks the targets."""
    mapping: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        header, equals, target = pair.rpartition("=")
        if not equals or not header.strip():
            fail(f"--mapping: {pair!r} is not 'header=target'")
        if header.strip() in mapping:
            fail(f"--mapping: the column {header.strip()!r} is mapped twice")
        mapping[header.strip()] = target.strip()
    return mapping


def summarise_import(run, errors: Path | None) -> None:
    from guanxi.commerce.importers.report import write_error_report

    console.print(f"{'Dry run' if run.dry_run else 'Import'} #{run.pk} of {run.file_name}: {run.state}")
    for name, value in sorted(run.counts.items()):
        if isinstance(value, int):
            console.print(f"  {name:<20} {value:>10,}")
    for reason, count in sorted(run.counts.get("reasons", {}).items(), key=lambda item: -item[1]):
        console.print(f"  by reason: {reason} ({count:,})", highlight=False)
    if errors is not None:
        with errors.open("w", encoding="utf-8-sig", newline="") as stream:
            write_error_report(run, stream)
        console.print(f"Row-level report written to {errors}")


@app.command()
def analyze(
    full: Annotated[
        bool, typer.Option("--full", help="Refit the models and recompute every customer.")
    ] = False,
    unit: Annotated[str | None, typer.Option(help="Only this business unit (code).")] = None,
) -> None:
    """Refresh customer metrics: RFM, ABC, CLV, churn risk, lifecycle stages."""
    prepare()
    target = unit_by_code(unit)
    job = run_foreground_job(
        "analytics.refresh", {"unit": target.pk if target else None, "full": full}, unit=target
    )
    console.print(f"Refreshed metrics: {job.counts}")


loyalty_app = typer.Typer(help="Loyalty programmes: re-derive tiers and balances, check the points ledger.")
app.add_typer(loyalty_app, name="loyalty")


@loyalty_app.command("recalc")
def loyalty_recalc(
    unit: Annotated[str | None, typer.Option(help="Only this business unit's programme (code).")] = None,
) -> None:
    """Re-derive every lot's remainder from the ledger and every member's tier, with a progress bar."""
    prepare()
    target = unit_by_code(unit)
    job = run_foreground_job("loyalty.recalc", {"unit": target.pk if target else None}, unit=target)
    console.print(f"Recalculated: {job.counts}")


@loyalty_app.command("backfill")
def loyalty_backfill(
    unit: Annotated[str | None, typer.Option(help="Only this business unit's programme (code).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Database connections earning at once (PostgreSQL); default: the CPUs."),
    ] = None,
) -> None:
    """Earn points on the order history: every due order that has not earned yet earns by the rule
    version in force when it was paid, then tiers are re-derived; with a progress bar. Safe to run
    again: no order earns twice."""
    prepare()
    target = unit_by_code(unit)
    job = run_foreground_job(
        "loyalty.backfill",
        {"unit": target.pk if target else None, "workers": workers or os.cpu_count() or 1},
        unit=target,
    )
    console.print(f"Earned: {job.counts}")


@loyalty_app.command("check")
def loyalty_check() -> None:
    """Prove the ledger: every movement balances, the whole sums to zero, cached lot remainders equal
    their entries. Exits 1 and lists the problems otherwise."""
    prepare()
    from guanxi.loyalty.actions import check_ledger

    problems = check_ledger()
    for problem in problems:
        console.print(f"{problem.what}: {problem.detail}", highlight=False)
    if problems:
        raise typer.Exit(1)
    console.print("The points ledger balances.")


privacy_app = typer.Typer(help="Privacy: erase again after a database restore, purge by retention.")
app.add_typer(privacy_app, name="privacy")


@privacy_app.command("replay")
def privacy_replay() -> None:
    """Erase again everyone the erasure log (GUANXI_HOME/privacy/erasures.jsonl) names who is back in
    the database: run it after restoring a backup taken before an erasure."""
    prepare()
    from guanxi.privacy.actions import replay

    done = replay()
    for request, customer in done:
        console.print(f"Request #{request}: customer #{customer} erased again", highlight=False)
    console.print(f"Erasure log replayed: {len(done)} customers erased again.")


@privacy_app.command("retention")
def privacy_retention() -> None:
    """Remove now what is past its retention horizon (the nightly job does the same)."""
    prepare()
    from guanxi.privacy.retention import purge

    run = purge()
    console.print(f"Purged: {run.purged}", highlight=False)


@app.command("engine-export")
def engine_export(
    full: Annotated[
        bool, typer.Option("--full", help="Empty the engine's tables and copy everything again.")
    ] = False,
) -> None:
    """Copy orders, lines, returns, events, customers and metrics to the analytics engine (ClickHouse).

    Incremental from the last export; `guanxi analyze` does the same before each refresh when
    GUANXI_ANALYTICS_ENGINE=clickhouse."""
    setup_django()
    from guanxi.analytics.engine.connection import EngineUnavailableError, engine_selected, get_engine

    if not engine_selected():
        fail(
            "The analytics engine is not selected: set GUANXI_ANALYTICS_ENGINE=clickhouse and GUANXI_CLICKHOUSE_URL."
        )
    prepare()
    from guanxi.accounts.models import BusinessUnit
    from guanxi.analytics.engine.export import export, export_metrics

    try:
        engine = get_engine()
        result = export(engine, full=full)
        metrics = 0
        if result.full:
            metrics = sum(
                export_metrics(engine, scope) for scope in [None, *BusinessUnit.objects.order_by("pk")]
            )
    except EngineUnavailableError as error:
        fail(str(error))
    kind = "Full" if result.full else "Incremental"
    console.print(
        f"{kind} export to {engine.kind} ClickHouse: {result.customers} customers, rows {result.rows}"
        + (f", {metrics} metric rows" if result.full else "")
    )


BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"
# Other names a benchmark is asked for by (the issues call the metrics refresh bench "analyze").
BENCH_ALIASES = {"analyze": "analytics"}


@app.command()
def bench(
    name: Annotated[
        str, typer.Argument(help="Benchmark to run: one of the files in bench/ (clv, import, …).")
    ],
    customers: Annotated[int | None, typer.Option(help="Scale, for benchmarks that take one.")] = None,
    minutes: Annotated[
        float | None, typer.Option(help="Duration of sustained load, for benchmarks that take one.")
    ] = None,
) -> None:
    """Run a benchmark: prints each figure beside its baseline measured in the same run, and the ratio."""
    name = BENCH_ALIASES.get(name, name)
    path = BENCH_DIR / f"{name.replace('-', '_')}.py"
    if not path.exists():
        available = ", ".join(sorted(p.stem.replace("_", "-") for p in BENCH_DIR.glob("[a-z]*.py")))
        fail(
            f"No benchmark named {name!r}. Available: {available or 'none (bench/ ships with a source checkout)'}"
        )
    spec = importlib.util.spec_from_file_location(f"guanxi_bench_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    options = {"minutes": minutes} if minutes is not None else {}
    lines = module.run(customers, **options) if customers is not None or options else module.run()
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)


def main() -> None:
    try:
        app()
    except UserFacingError as error:
        Console(stderr=True, soft_wrap=True).print(f"[red]guanxi:[/red] {error}", highlight=False)
        sys.exit(2)
