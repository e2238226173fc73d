"""A refresh run: which scopes, full or incremental, progress, and the bookkeeping of each scope's
ModelRun (parameters, breakpoints, backtest) once its rows are written."""

import logging
import math
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
from django.db import transaction
from django.utils import timezone

from guanxi.accounts.models import BusinessUnit
from guanxi.analytics import phrases, supervised
from guanxi.analytics.conf import AnalyticsConfig, analytics_config
from guanxi.analytics.engine import engine_selected
from guanxi.analytics.fitting import FitMethod
from guanxi.analytics.models import (
    ChurnMethod,
    CustomerMetric,
    ModelRun,
)
from guanxi.analytics.refresh.arrays import OrderArrays
from guanxi.analytics.refresh.compute import (
    ScopeResult,
    aggregate_orders,
    backtest_scope,
    day_number,
    models_to_parameters,
    purchase_log,
    score_scope,
)
from guanxi.analytics.refresh.read import (
    high_water_marks,
    read_orders,
    read_returns,
    touched_customers,
    universe_of,
)
from guanxi.analytics.refresh.rebuild import TableRebuild
from guanxi.analytics.refresh.write import write_rows
from guanxi.analytics.rollup import rebuild_customer_counts
from guanxi.core.display import Coded

logger = logging.getLogger(__name__)


class ProgressSink(Protocol):
    def set_total(self, total: int | None) -> None: ...

    def advance(self, steps: int = 1, message: str | Coded = "", **counts: int) -> None: ...


def refresh_metrics(
    unit: BusinessUnit | None = None,
    full: bool = False,
    progress: ProgressSink | None = None,
    *,
    as_of: datetime | None = None,
    job: Any = None,
) -> ModelRun:
    """Refresh one unit's metrics, or (unit None) the organisation-wide ones and every unit's.

    Returns the run of `unit`'s scope (the organisation-wide run when `unit` is None).
    """
    config = analytics_config()
    started = timezone.now()
    as_of = as_of or started
    scopes: list[BusinessUnit | None] = (
        [unit] if unit is not None else [None, *BusinessUnit.objects.order_by("pk")]
    )
    previous = {_scope_key(s): _last_run(s) for s in scopes}
    incremental = not full and all(
        run is not None and run.parameters and run.watermarks and _fit_is_fresh(run, as_of, config)
        for run in previous.values()
    )
    # Taken before anything is read: rows added from now on are the next incremental run's business.
    marks = high_water_marks()
    runs = {
        _scope_key(s): ModelRun.objects.create(
            unit=s, full=not incremental, as_of=as_of, started_at=started, job=job, watermarks=marks
        )
        for s in scopes
    }
    on_engine = engine_selected()
    if on_engine:
        from guanxi.analytics.engine import aggregates as engine_aggregates
        from guanxi.analytics.engine.connection import get_engine
        from guanxi.analytics.engine.export import export as export_to_engine
        from guanxi.analytics.engine.export import export_metrics
    steps = _Steps(progress, total=2 + 2 * len(scopes) + (2 if on_engine else 0))
    try:
        # Inside: an engine that cannot be reached fails the runs like any other error.
        engine = get_engine() if on_engine else None
        touched = None
        if incremental:
            since = {
                name: min(run.watermarks.get(name, 0) for run in previous.values() if run is not None)
                for name in marks
            }
            touched = touched_customers(since, unit)
        if engine is not None:
            # The engine's copy catches up first (incrementally, from its own watermark).
            export_to_engine(engine)
            steps.done(phrases.ENGINE_EXPORTED())
        steps.done(phrases.READING_ORDERS())
        # One supervised churn model per refresh, trained on the first scope (see supervised.py).
        trainer = None if incremental else supervised.Trainer(day_number(as_of), config.CHURN_HORIZON_DAYS)
        stored_models = {
            _scope_key(scope): stored_churn_model(previous[_scope_key(scope)])  # type: ignore[arg-type]
            for scope in scopes
            if incremental and previous[_scope_key(scope)] is not None
        }
        # Single orders are needed for the backtest and the supervised churn model; on the engine the
        # per-customer aggregates come from SQL and the log is read only when one of those needs it.
        needs_log = engine is None or trainer is not None or any(stored_models.values())
        unit_id = unit.pk if unit else None
        if not needs_log:
            orders, returns = OrderArrays(*(np.zeros(0, dtype=np.int64) for _ in range(6))), _no_returns()
        elif engine is not None:
            orders = engine_aggregates.read_orders(engine, unit_id=unit_id, customer_ids=touched).sorted()
            returns = engine_aggregates.read_returns(engine, as_of, unit_id=unit_id, customer_ids=touched)
        else:
            orders = read_orders(unit_id=unit_id, customer_ids=touched).sorted()
            returns = read_returns(as_of, unit_id=unit_id, customer_ids=touched)
        steps.done(phrases.ORDERS_READ(), orders=len(orders.customer))
        results = {}
        for scope in scopes:
            key = _scope_key(scope)
            mask = np.ones(len(orders.customer), dtype=bool) if scope is None else orders.unit == scope.pk
            rmask = np.ones(len(returns[0]), dtype=bool) if scope is None else returns[1] == scope.pk
            universe = universe_of(scope, touched)
            prior = previous[key] if incremental else None
            scope_orders = orders.where(mask)
            scope_returns = (returns[0][rmask], returns[2][rmask], returns[3][rmask])
            report, outcome, churn_scores = None, None, None
            if trainer is not None:
                report = backtest_scope(scope_orders, as_of, config)
                outcome = trainer.evaluate(purchase_log(scope_orders, scope_returns, as_of), report)
                churn_scores = outcome.scores
            elif prior is not None and (stored := stored_models.get(key)) is not None:
                churn_scores = supervised.score(
                    stored, purchase_log(scope_orders, scope_returns, as_of), day_number(as_of)
                )
            if engine is not None:
                aggregates = engine_aggregates.customer_aggregates(
                    engine, as_of, unit_id=_scope_key(scope), customer_ids=touched
                )
            else:
                aggregates = aggregate_orders(scope_orders, scope_returns[:2], as_of)
            results[key] = score_scope(
                aggregates, universe, as_of, config, prior, supervised_scores=churn_scores
            )
            results[key].backtest, results[key].supervised_churn = report, outcome
            if outcome is not None and outcome.model is not None:
                # Stored for incremental runs, which score changed customers with it.
                results[key].breakpoints = {
                    **results[key].breakpoints,
                    "churn_model": outcome.model.to_json(),
                }
            steps.done(phrases.UNIT_COMPUTED(unit=scope.name) if scope else phrases.ORGANISATION_COMPUTED())
        with transaction.atomic():
            # Every scope anew: write them into a new table and put it in the old one's place.
            rebuild = (
                TableRebuild(CustomerMetric._meta.db_table) if unit is None and not incremental else None
            )
            table = rebuild.begin() if rebuild else None
            for scope in scopes:
                key = _scope_key(scope)
                run = runs[key]
                result = results[key]
                write_rows(result.columns, scope, run.pk, as_of, touched, table=table)
                _finish_run(run, result, previous[key] if incremental else None, touched)
                steps.done(phrases.UNIT_SAVED(unit=scope.name) if scope else phrases.ORGANISATION_SAVED())
            if rebuild:
                rebuild.finish()
            rebuild_customer_counts()
        if engine is not None:
            # Segment rules on metrics read the engine's copy of the rows just written.
            for scope in scopes:
                export_metrics(engine, scope, touched)
            steps.done(phrases.ENGINE_METRICS_WRITTEN())
    except Exception as error:
        ModelRun.objects.filter(pk__in=[r.pk for r in runs.values()]).update(
            state=ModelRun.State.FAILED,
            finished_at=timezone.now(),
            message=f"{type(error).__name__}: {error}"[:500],
        )
        raise
    return runs[_scope_key(unit)]


def _no_returns() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    empty = np.zeros(0, dtype=np.int64)
    return empty, empty, empty, empty


def _scope_key(scope: BusinessUnit | None) -> int | None:
    return scope.pk if scope is not None else None


def _last_run(scope: BusinessUnit | None) -> ModelRun | None:
    return (
        ModelRun.objects.filter(unit=scope, state=ModelRun.State.SUCCEEDED)
        .order_by("-started_at", "-pk")
        .first()
    )


def stored_churn_model(run: ModelRun) -> supervised.ChurnModel | None:
    """The supervised churn model a full run used and stored, for its incremental successors."""
    if run.churn_method != ChurnMethod.SUPERVISED or "churn_model" not in (run.breakpoints or {}):
        return None
    return supervised.ChurnModel.from_json(run.breakpoints["churn_model"])


def _fit_is_fresh(run: ModelRun, as_of: datetime, config: AnalyticsConfig) -> bool:
    fitted_at = run.parameters.get("fitted_at")
    if not fitted_at:
        return False
    return as_of - datetime.fromisoformat(fitted_at) < timedelta(days=config.REFIT_AFTER_DAYS)


class _Steps:
    def __init__(self, progress: ProgressSink | None, total: int) -> None:
        self.progress = progress
        if progress is not None:
            progress.set_total(total)

    def done(self, message: Coded, **counts: int) -> None:
        logger.info("analytics refresh: %s %s", message.code, message.params)
        if self.progress is not None:
            self.progress.advance(1, message, **counts)


def _finish_run(
    run: ModelRun, result: ScopeResult, prior: ModelRun | None, touched: np.ndarray | None
) -> None:
    run.state = ModelRun.State.SUCCEEDED
    run.finished_at = timezone.now()
    run.counts = result.counts | ({"changed_customers": len(touched)} if touched is not None else {})
    run.breakpoints = _json_safe(result.breakpoints)
    if prior is not None:
        # Incremental: the models and their backtest are those of the last full run.
        for name in (
            "parameters",
            "method",
            "fallback_reason",
            "log_likelihood",
            "backtest_cutoff",
            "backtest_mae",
            "backtest_series",
            "churn_method",
            "churn_auc",
            "supervised_churn_auc",
            "churn_calibration",
        ):
            setattr(run, name, getattr(prior, name))
    else:
        models = result.models
        assert models is not None  # a full run always fits (or falls back) before saving
        run.parameters = models_to_parameters(models, run.started_at)
        run.method = models.method
        run.fallback_reason = ", ".join(str(reason) for reason in models.reasons)
        lls = [fit.log_likelihood for fit in (models.purchases, models.spend)]
        run.log_likelihood = None if any(math.isnan(v) for v in lls) else float(sum(lls))
        report = result.backtest
        if report is not None:
            run.backtest_cutoff = report.cutoff
            run.backtest_mae = report.mae
            run.backtest_series = _json_safe(report.series)
            run.churn_method = (
                ChurnMethod.PROBABILITY_ALIVE
                if report.models.purchases.method == FitMethod.MAXIMUM_LIKELIHOOD
                else ChurnMethod.RECENCY
            )
            run.churn_auc = report.churn_auc
            run.churn_calibration = report.calibration
        if result.supervised_churn is not None:
            run.parameters["supervised"] = result.supervised_churn.describe()
            run.supervised_churn_auc = result.supervised_churn.auc
            if result.supervised_churn.used:
                run.churn_method = ChurnMethod.SUPERVISED
    run.save()


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
