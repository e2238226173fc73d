"""Rules compiled to ClickHouse SQL select, over the engine's copy, the customers the ORM selects.

The random rule trees and the world of boundary values are the ORM compiler's own test's
(test_compiler.py); 100 trees the engine can evaluate are drawn per seed and scope. The ready-made
segments are compared on the demo shop, as counts through `count_preview`.
"""

from datetime import datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from guanxi.analytics.engine.connection import close_engines, get_engine
from guanxi.analytics.engine.export import export, export_metrics
from guanxi.customers.models import Customer
from guanxi.segments import rules
from guanxi.segments.actions import refresh_segment
from guanxi.segments.audience import audience, count_preview
from guanxi.segments.compiler import Context, compile_rule
from guanxi.segments.engine_sql import EngineUnsupportedError, compile_engine, members
from guanxi.segments.models import Segment, SegmentMembership
from guanxi.segments.ready_made import install_ready_made_segments
from guanxi.segments.tests.test_compiler import NOW, SHANGHAI, _resolver, _trees, _world

pytest.importorskip(
    "chdb", reason="chDB (PyPI chdb, the in-process ClickHouse engine) cannot be imported on this machine"
)


@pytest.fixture
def clickhouse(settings, tmp_path):
    settings.GUANXI_ANALYTICS_ENGINE = "clickhouse"
    settings.GUANXI_CLICKHOUSE_URL = f"chdb:{tmp_path / 'clickhouse'}"
    yield get_engine()
    close_engines()


def _copy_everything(engine, units) -> None:
    export(engine, full=True)
    for scope in [None, *units]:
        export_metrics(engine, scope)


@pytest.mark.parametrize("seed", [1, 2])
def test_engine_sql_selects_what_the_orm_selects(db, unit_a, unit_b, clickhouse, seed):
    ids = _world(unit_a, unit_b, seed)
    _copy_everything(clickhouse, [unit_a, unit_b])
    checked = {"trees": 0, "unsupported": 0}

    @settings(
        max_examples=100,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(tree=_trees(ids), unit_ids=st.sampled_from([None, (unit_a.pk,)]))
    def check(tree, unit_ids):
        rule = rules.parse_rule({"version": 1, "root": tree})
        context = Context(now=NOW, unit_ids=unit_ids, resolve_segment=_resolver)
        try:
            compile_engine(rule, context)
        except EngineUnsupportedError:
            checked["unsupported"] += 1
            assume(False)
        expected = set(Customer.objects.filter(compile_rule(rule, context)).values_list("pk", flat=True))
        assert set(members(clickhouse, rule, context, active_only=False)) == expected, (tree, unit_ids)
        checked["trees"] += 1

    check()
    assert checked["trees"] >= 100


def test_unsupported_conditions_are_named():
    rule = rules.parse_rule({"version": 1, "root": {"type": "consent", "channel": "sms", "state": "granted"}})
    with pytest.raises(EngineUnsupportedError):
        compile_engine(rule, Context(now=NOW))


def test_ready_made_segment_counts_on_the_engine_equal_the_orm(db, clickhouse, settings):
    from guanxi.demo import load_demo

    load_demo(customers=300, anchor=datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI))
    from guanxi.analytics.refresh import refresh_metrics

    refresh_metrics(full=True, as_of=NOW)  # on the engine: exports, refreshes, copies the metrics back
    segments = install_ready_made_segments()
    assert len(segments) >= 5
    compared = 0
    for segment in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).order_by("pk"):
        rule = rules.parse_rule(segment.rule)
        orm = audience(None, rule, unit=segment.unit, now=NOW).count()
        on_engine = count_preview(None, rule, unit=segment.unit, now=NOW)
        settings.GUANXI_ANALYTICS_ENGINE = "embedded"
        assert count_preview(None, rule, unit=segment.unit, now=NOW) == orm
        settings.GUANXI_ANALYTICS_ENGINE = "clickhouse"
        assert on_engine == orm, segment.name
        # Membership evaluated on the engine and written back: the stays the ORM's audience gives.
        result = refresh_segment(segment, now=NOW)
        stays = set(
            SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values_list(
                "customer_id", flat=True
            )
        )
        assert stays == set(audience(None, rule, unit=segment.unit, now=NOW).values_list("pk", flat=True))
        assert (result.members, result.entered) == (orm, orm)
        compared += 1
    assert compared >= 5


def test_counts_fall_back_to_the_database_when_the_engine_fails(db, unit_a, unit_b, settings, caplog):
    _world(unit_a, unit_b, 1)
    settings.GUANXI_ANALYTICS_ENGINE = "clickhouse"
    settings.GUANXI_CLICKHOUSE_URL = "http://default:@127.0.0.1:1/guanxi"
    rule = rules.parse_rule(
        {"version": 1, "root": {"type": "profile", "field": "gender", "op": "eq", "value": "female"}}
    )
    expected = audience(None, rule, now=NOW).count()
    assert expected > 0
    assert count_preview(None, rule, now=NOW) == expected
    assert "counting in the database" in caplog.text
    close_engines()
