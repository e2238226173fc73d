"""The engine connection: which URLs it takes, and values bound as parameters arrive intact."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from guanxi.analytics.engine.connection import Engine, EngineUnavailableError, close_engines, get_engine

pytest.importorskip(
    "chdb", reason="chDB (PyPI chdb, the in-process ClickHouse engine) cannot be imported on this machine"
)


def test_an_unknown_url_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="GUANXI_CLICKHOUSE_URL"):
        Engine("clickhouse://somewhere")


def test_a_server_that_does_not_answer_is_named():
    with pytest.raises(EngineUnavailableError, match=r"127\.0\.0\.1"):
        Engine("http://default:@127.0.0.1:1/guanxi")


def test_parameters_reach_chdb_exactly(tmp_path):
    engine = get_engine(f"chdb:{tmp_path / 'ch'}")
    try:
        texts = ["o'k", "back\\slash", "tab\there", "上海", ""]
        row = engine.arrow(
            "SELECT {texts:Array(String)} AS texts, {one:String} AS one, {n:Int64} AS n, "
            "{d:Decimal(38, 6)} AS d, {ids:Array(Int64)} AS ids",
            {"texts": texts, "one": "it's\\ \n", "n": -7, "d": "12.345678", "ids": []},
        ).to_pylist()[0]
        assert row["texts"] == texts
        assert row["one"] == "it's\\ \n"
        assert (row["n"], str(row["d"]), row["ids"]) == (-7, "12.345678", [])
    finally:
        close_engines()


def test_a_refresh_whose_engine_cannot_be_reached_fails_its_runs(db, unit_a, settings):
    from guanxi.analytics.models import ModelRun
    from guanxi.analytics.refresh import refresh_metrics

    settings.GUANXI_ANALYTICS_ENGINE = "clickhouse"
    settings.GUANXI_CLICKHOUSE_URL = "http://default:@127.0.0.1:1/guanxi"
    with pytest.raises(EngineUnavailableError):
        refresh_metrics(unit=unit_a, full=True)
    run = ModelRun.objects.get()
    assert run.state == ModelRun.State.FAILED
    assert run.message.startswith("EngineUnavailableError: ClickHouse at 127.0.0.1 cannot be reached")
