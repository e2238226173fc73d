"""The `guanxi` command as a user runs it: clear one-line errors, embedded defaults, deploy checks."""

import os
import socket
import sqlite3
import subprocess
import sys

import pytest

# Settings a developer's shell or another test module may have set; each test states its own.
INHERITED_SETTINGS = {
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
    "TEST_DATABASE_URL",
    "SECRET_KEY",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def run_guanxi(*args: str, home, timeout: int = 300, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in INHERITED_SETTINGS}
    environment.update(GUANXI_HOME=str(home), **env)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "guanxi", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert expected in " ".join(lines)


def test_unsupported_database_url_is_one_clear_line(tmp_path):
    result = run_guanxi("migrate", home=tmp_path, DATABASE_URL="mysql://root@127.0.0.1/guanxi")
    assert_one_clear_line(result, "Guanxi runs on sqlite:/// or postgres://")


def test_garbage_database_url_is_one_clear_line(tmp_path):
    result = run_guanxi("migrate", home=tmp_path, DATABASE_URL="not a url")
    assert_one_clear_line(result, "DATABASE_URL")


def test_unreachable_postgresql_is_one_clear_line(tmp_path):
    result = run_guanxi("migrate", home=tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:1/guanxi")
    assert_one_clear_line(result, "Cannot reach the database (postgresql at 127.0.0.1)")


def test_unreachable_redis_is_one_clear_line(tmp_path):
    result = run_guanxi("worker", home=tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    assert_one_clear_line(result, "Cannot reach Redis at REDIS_URL")


def test_port_in_use_is_one_clear_line(tmp_path):
    assert run_guanxi("migrate", home=tmp_path).returncode == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_guanxi("serve", "--port", str(port), "--no-with-worker", home=tmp_path)
    assert_one_clear_line(result, f"Cannot listen on 127.0.0.1:{port}")


def test_bad_boolean_setting_is_one_clear_line(tmp_path):
    result = run_guanxi("migrate", home=tmp_path, GUANXI_PRODUCTION="maybe")
    assert_one_clear_line(result, "GUANXI_PRODUCTION must be true or false")


def test_migrate_creates_the_embedded_database_in_wal_mode_with_a_kept_secret(tmp_path):
    result = run_guanxi("migrate", home=tmp_path)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "guanxi.sqlite3") as database:
        assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in database.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"accounts_user", "core_job", "core_auditentry", "commerce_order"} <= tables
    secret = (tmp_path / "secret_key").read_text()
    assert len(secret) >= 50
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"
    assert run_guanxi("migrate", home=tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == secret


def test_production_settings_pass_the_deploy_checks(tmp_path):
    result = run_guanxi(
        "check", "--deploy", home=tmp_path, GUANXI_PRODUCTION="1", ALLOWED_HOSTS="crm.example.com"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_development_settings_fail_the_deploy_checks(tmp_path):
    result = run_guanxi("check", "--deploy", home=tmp_path)
    assert result.returncode == 1
    assert "security.W004" in result.stdout  # no HSTS outside production


@pytest.mark.parametrize(
    "command",
    [
        "demo",
        "serve",
        "worker",
        "migrate",
        "createadmin",
        "createunit",
        "check",
        "manage",
        "import",
        "analyze",
        "engine-export",
        "bench",
    ],
)
def test_every_documented_command_has_help(tmp_path, command):
    result = run_guanxi(command, "--help", home=tmp_path)
    assert result.returncode == 0, result.stderr


def test_engine_export_says_when_the_engine_is_not_selected(tmp_path):
    result = run_guanxi("engine-export", home=tmp_path)
    assert result.returncode == 2
    assert "GUANXI_ANALYTICS_ENGINE=clickhouse" in result.stderr


def test_engine_export_copies_to_chdb_then_goes_incremental(tmp_path):
    pytest.importorskip("chdb", reason="chDB (PyPI chdb) cannot be imported on this machine")
    assert run_guanxi("migrate", home=tmp_path).returncode == 0
    engine = {"GUANXI_ANALYTICS_ENGINE": "clickhouse", "GUANXI_CLICKHOUSE_URL": f"chdb:{tmp_path / 'ch'}"}
    first = run_guanxi("engine-export", home=tmp_path, **engine)
    assert first.returncode == 0, first.stderr
    assert "Full export to chdb ClickHouse: 0 customers" in first.stdout
    second = run_guanxi("engine-export", home=tmp_path, **engine)
    assert "Incremental export to chdb ClickHouse: 0 customers" in second.stdout


def test_demo_without_serving_loads_the_shop_and_keeps_it_on_a_second_run(tmp_path):
    first = run_guanxi("demo", "--no-serve", "--customers", "60", home=tmp_path, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "manager" in first.stdout
    with sqlite3.connect(tmp_path / "guanxi.sqlite3") as database:
        # The shop's own customers, besides the B2B contacts its sales demo made (guanxi/demo/sales.py).
        customers, contacts = database.execute(
            "SELECT COUNT(*) - SUM(id IN (SELECT customer_id FROM customers_identity WHERE source LIKE 'sales:%')), "
            "(SELECT COUNT(*) FROM sales_contact) FROM customers_customer"
        ).fetchone()
        units = database.execute("SELECT COUNT(*) FROM accounts_businessunit").fetchone()[0]
        metrics = database.execute("SELECT COUNT(*) FROM analytics_customermetric").fetchone()[0]
        jobs = database.execute("SELECT kind, state FROM core_job ORDER BY id").fetchall()
        # The unit heads' scheduled reports (guanxi/demo/reports.py).
        deliveries = database.execute("SELECT report, frequency FROM reports_delivery ORDER BY id").fetchall()
    assert deliveries == [("products", "weekly"), ("churn", "monthly")]
    assert (customers, units) == (60, 2)
    assert contacts > 0 and metrics > 0
    assert jobs == [("demo.load", "succeeded"), ("analytics.refresh", "succeeded")]
    second = run_guanxi("demo", "--no-serve", home=tmp_path, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "already loaded" in second.stdout

    # An order's earning lost (its movement, lot and entries, untouched by any spending) is earned
    # again by the backfill command, and by it only: every other order has earned already.
    with sqlite3.connect(tmp_path / "guanxi.sqlite3") as database:
        movement, key, points = database.execute(
            "SELECT m.id, m.key, m.points FROM loyalty_movement m JOIN loyalty_lot l ON l.movement_id = m.id "
            "WHERE m.kind = 'earn' AND l.remaining = l.points AND (SELECT COUNT(*) FROM loyalty_entry e "
            "WHERE e.lot_id = l.id) = 1 ORDER BY m.id DESC LIMIT 1"
        ).fetchone()
        database.execute("DELETE FROM loyalty_entry WHERE movement_id = ?", [movement])
        database.execute("DELETE FROM loyalty_lot WHERE movement_id = ?", [movement])
        database.execute("DELETE FROM loyalty_movement WHERE id = ?", [movement])
    backfill = run_guanxi("loyalty", "backfill", home=tmp_path)
    assert backfill.returncode == 0, backfill.stderr
    assert "'earned': 1," in backfill.stdout and "'members': 0" in backfill.stdout
    with sqlite3.connect(tmp_path / "guanxi.sqlite3") as database:
        assert database.execute("SELECT points FROM loyalty_movement WHERE key = ?", [key]).fetchall() == [
            (points,)
        ]
    check = run_guanxi("loyalty", "check", home=tmp_path)
    assert check.returncode == 0, check.stdout
    assert "The points ledger balances." in check.stdout


RETAIL_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


def test_import_reports_every_row_and_adds_nothing_the_second_time(tmp_path):
    data = tmp_path / "retail.csv"
    data.write_text(
        RETAIL_HEADER
        + "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
        + "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom\n"
        + "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,,United Kingdom\n"
        + "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom\n"
        + "536367,POST,POSTAGE,1,2010-12-01 08:34:00,18.00,13047,United Kingdom\n"
    )
    assert run_guanxi("migrate", home=tmp_path).returncode == 0
    assert run_guanxi("createunit", "uk", "UK wholesale", home=tmp_path).returncode == 0
    first = run_guanxi("import", "online-retail", str(data), "--unit", "uk", home=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "succeeded" in first.stdout
    with sqlite3.connect(tmp_path / "guanxi.sqlite3") as database:
        counts = database.execute(
            "SELECT (SELECT COUNT(*) FROM commerce_order), (SELECT COUNT(*) FROM commerce_return),"
            " (SELECT COUNT(*) FROM customers_customer)"
        ).fetchone()
    assert counts == (3, 1, 3)
    second = run_guanxi("import", "online-retail", str(data), "--unit", "uk", home=tmp_path)
    assert second.returncode == 0, second.stderr
    with sqlite3.connect(tmp_path / "guanxi.sqlite3") as database:
        again = database.execute(
            "SELECT (SELECT COUNT(*) FROM commerce_order), (SELECT COUNT(*) FROM commerce_return),"
            " (SELECT COUNT(*) FROM customers_customer)"
        ).fetchone()
    assert again == counts


def test_generic_import_takes_a_column_mapping_on_the_command_line(tmp_path):
    data = tmp_path / "crm.csv"
    data.write_text(
        "Contact no,Full name,Electronic address\n13812345678,Ada,ada@mail.cn\n,Bo,not-an-email\n"
    )
    assert run_guanxi("migrate", home=tmp_path).returncode == 0
    assert run_guanxi("createunit", "uk", "UK", home=tmp_path).returncode == 0
    mapping = "Contact no=identity:phone,Full name=name,Electronic address=identity:email"

    result = run_guanxi(
        "import", "generic-customers", str(data), "--unit", "uk", "--mapping", mapping, home=tmp_path
    )
    unknown = run_guanxi(
        "import", "generic-customers", str(data), "--unit", "uk", "--mapping-name", "CRM", home=tmp_path
    )
    malformed = run_guanxi(
        "import", "generic-customers", str(data), "--unit", "uk", "--mapping", "Full name", home=tmp_path
    )

    assert result.returncode == 0, result.stderr
    lines = {
        line.split()[0]: line.split()[-1] for line in result.stdout.splitlines()[1:] if line.startswith("  ")
    }
    assert (lines["rows"], lines["imported"], lines["rejected"], lines["customers_created"]) == (
        "2",
        "1",
        "1",
        "1",
    )
    with sqlite3.connect(tmp_path / "guanxi.sqlite3") as database:
        assert database.execute("SELECT name FROM customers_customer").fetchall() == [("Ada",)]
    assert unknown.returncode == 2
    assert "commerce.import failed: 没有名为 CRM 的已保存映射" in unknown.stderr
    assert_one_clear_line(malformed, "--mapping: 'Full name' is not 'header=target'")


def test_import_into_an_unknown_unit_is_one_clear_line(tmp_path):
    data = tmp_path / "retail.csv"
    data.write_text(RETAIL_HEADER)
    assert run_guanxi("migrate", home=tmp_path).returncode == 0
    result = run_guanxi("import", "online-retail", str(data), "--unit", "nope", home=tmp_path)
    assert_one_clear_line(result, "No business unit with code 'nope'")


def test_import_of_a_file_without_the_required_columns_fails_clearly(tmp_path):
    data = tmp_path / "wrong.csv"
    data.write_text("a,b\n1,2\n")
    assert run_guanxi("migrate", home=tmp_path).returncode == 0
    assert run_guanxi("createunit", "uk", "UK", home=tmp_path).returncode == 0
    result = run_guanxi("import", "online-retail", str(data), "--unit", "uk", home=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "commerce.import failed" in result.stderr


def test_commands_on_an_unmigrated_database_say_to_migrate(tmp_path):
    result = run_guanxi("createunit", "uk", "UK", home=tmp_path)
    assert_one_clear_line(result, "run `guanxi migrate` first")
