"""Supervised churn risk: gradient boosting on each customer's purchase history, used for a scope only
when it beats the P(alive)-based risk on the same out-of-time backtest.

Features, per customer at a cut-off day t (orders and returns up to t; `FEATURES`): days since the last
order, orders, spend, days since the first order (tenure), mean days between orders and recency over
that interval (NaN for customers without a rhythm yet), the share of spend returned and the share of
orders placed on a phone (mobile web or app).

Time-split training: features at t − h, label = no order in (t − h, t]. Two models come out of a full
refresh, both with `HistGradientBoostingClassifier` and fixed settings (`HYPERPARAMETERS`):

- the *evaluation* model, trained at the backtest cut-off c minus the holdout length H, scores the
  backtest's customers at c; its AUC on their holdout (no order in (c, c + H]) is `supervised_churn_auc`,
  set beside the backtest's P(alive) AUC (`churn_auc`) computed on the very same customers and labels;
- the *production* model, trained at the refresh day minus `CHURN_HORIZON_DAYS`, gives the stored risk
  (no order in the next `CHURN_HORIZON_DAYS`, the figure P(alive) gives) for every scope whose
  supervised AUC is strictly the higher. It is fitted only when some scope adopts it.

"Enough history" (else the AUC is not computed and P(alive) stays): at least MIN_HISTORY_DAYS of orders
before a training cut-off, MIN_CUSTOMERS customers in each training and evaluation set, and
MIN_CUSTOMERS_PER_CLASS of them churned and as many retained. Training uses at most
MAX_TRAINING_CUSTOMERS customers, a seeded sample, so that a fit takes a fraction of a second at any size.

One model serves every scope of a refresh: the models are trained on the first scope (organisation-wide
when every scope is refreshed, else the one unit) and score the unit scopes with the units' own
features; each unit still adopts the model only if it beats P(alive) on that unit's own backtest, and
only when the unit's backtest cut-off is the organisation's (else the evaluation model would have seen
the unit's holdout). Training per scope would double or treble the fitting time for little: a unit's
customers are mostly the organisation's customers with the same orders, and for them (identical
feature rows) the organisation-wide predictions are reused instead of computed again.

Reasons: each feature's partial dependence (the model's mean risk over a sample of training customers
with that feature set to a value) is tabulated once per run; a customer's effect of a feature is its
partial dependence at the customer's value minus at the scope's median. The features with the largest
effects become the stored reasons, "up" when they raise the risk; a feature whose permutation importance
on the backtest holdout is not positive is never a reason, and effects under MIN_EFFECT (one
percentage point) are left out. A missing interval (a single order day) counts toward the number of
orders, the plain-language reason for it.

Incremental refreshes score changed customers with the last full run's production model, which is stored
as plain JSON (each tree's split features, thresholds and leaf values; no pickle) with the run's
breakpoints and evaluated with numpy, reproducing scikit-learn's predictions exactly.
"""

import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit
from threadpoolctl import threadpool_limits

from guanxi.analytics import churn

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier

logger = logging.getLogger(__name__)

FEATURES = (
    "days_since_last_order",
    "orders",
    "spend",
    "tenure",
    "interval",
    "overdue",
    "returns_rate",
    "mobile_share",
)
MIN_HISTORY_DAYS = 90
MIN_CUSTOMERS = 1_000
MIN_CUSTOMERS_PER_CLASS = 100
MAX_TRAINING_CUSTOMERS = 100_000
# Few shallow trees: prediction, not fitting, dominates at a million customers (one pass per tree).
HYPERPARAMETERS: dict[str, Any] = {
    "max_iter": 25,
    "learning_rate": 0.2,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": False,
    "random_state": 0,
}
SEED = 0
IMPORTANCE_CUSTOMERS = 20_000
DEPENDENCE_CUSTOMERS = 500
DEPENDENCE_GRID = 21
MIN_EFFECT = 0.01
# One OpenMP thread: fitting and predicting run many short parallel steps (one per tree level, one per
# tree), and when another process holds a core each step waits for the descheduled thread. On 2 busy
# cores two threads fitted up to 50 times and predicted up to 2.4 times slower than one; on 2 calm
# cores they were 1.6 and 2 times faster (ADR 0007).
THREADS = 1


class Skip(StrEnum):
    """Why no supervised AUC was computed for a scope."""

    NO_BACKTEST = "no_backtest"
    SHORT_HISTORY = "short_history"
    TOO_FEW_CUSTOMERS = "too_few_customers"
    TOO_FEW_CHURNED = "too_few_churned"
    TOO_FEW_RETAINED = "too_few_retained"
    OTHER_CUTOFF = "cutoff_differs"


@dataclass(frozen=True)
class PurchaseLog:
    """One scope's sale orders and returns up to the refresh, by customer, ready for features at any day.

    Orders of a customer up to a day are a prefix of theirs, so counts come from one comparison and sums
    from running totals: a further cut-off costs a pass over the orders, not a regrouping.
    """

    customer_ids: np.ndarray  # distinct, ascending
    starts: np.ndarray  # first order of each customer
    day: np.ndarray  # each order's day number (local calendar)
    running_cents: np.ndarray  # running total of cents before each order, one entry more than orders
    running_mobile: np.ndarray  # running count of phone orders, likewise
    return_of: np.ndarray  # position in customer_ids of each return's customer
    return_day: np.ndarray
    return_cents: np.ndarray

    @classmethod
    def build(
        cls,
        customer: np.ndarray,
        day: np.ndarray,
        cents: np.ndarray,
        mobile: np.ndarray,
        returns: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> "PurchaseLog":
        """From orders sorted by customer then time, and returns (customer, day, cents) in any order."""
        starts = (
            np.flatnonzero(np.r_[True, customer[1:] != customer[:-1]])
            if len(customer)
            else np.zeros(0, dtype=np.intp)
        )
        ids = customer[starts]
        return_customer, return_day, return_cents = returns
        at = np.minimum(np.searchsorted(ids, return_customer), max(len(ids) - 1, 0))
        known = (ids[at] == return_customer) if len(ids) else np.zeros(len(return_customer), dtype=bool)
        return cls(
            customer_ids=ids,
            starts=starts,
            day=np.asarray(day, dtype=np.int64),
            running_cents=np.r_[0, np.cumsum(cents, dtype=np.int64)],
            running_mobile=np.r_[0, np.cumsum(mobile, dtype=np.int64)],
            return_of=at[known],
            return_day=np.asarray(return_day)[known],
            return_cents=np.asarray(return_cents)[known],
        )

    @property
    def first_day(self) -> int | None:
        return int(self.day.min()) if len(self.day) else None

    def counts_at(self, day: int) -> np.ndarray:
        """Orders of each customer up to `day`."""
        if not len(self.starts):
            return np.zeros(0, dtype=np.int64)
        return np.add.reduceat(self.day <= day, self.starts, dtype=np.int64)


@dataclass(frozen=True)
class Features:
    """FEATURES of the customers who had ordered by a day, in customer id order."""

    customer_ids: np.ndarray
    matrix: np.ndarray
    counts: np.ndarray  # orders up to the day, to tell who orders later

    def take(self, rows: np.ndarray) -> "Features":
        return Features(self.customer_ids[rows], self.matrix[rows], self.counts[rows])


def features_at(
    log: PurchaseLog, day: int, counts: np.ndarray | None = None, rows: np.ndarray | None = None
) -> Features:
    """Customers' features from their orders and returns up to `day`: of every customer with an order by
    then, or of those at `rows` (positions in the log, where `counts` are their orders by then)."""
    if rows is None or counts is None:
        counts = log.counts_at(day)
        rows = np.flatnonzero(counts > 0)
        counts = counts[rows]
    has, first, n = rows, log.starts[rows], counts
    last = first + n - 1
    recency = (day - log.day[last]).astype(float)
    span = (log.day[last] - log.day[first]).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Orders all on one day show no rhythm yet: no interval, as for a single order.
        interval = np.where((n > 1) & (span > 0), span / (n - 1), np.nan)
        overdue = (recency + 1) / (interval + 1)
        spend_cents = (log.running_cents[last + 1] - log.running_cents[first]).astype(float)
        returned_by_then = log.return_day <= day
        returned = np.bincount(
            log.return_of[returned_by_then],
            weights=log.return_cents[returned_by_then],
            minlength=len(log.customer_ids),
        )[has]
        returns_rate = np.where(spend_cents > 0, np.clip(returned / spend_cents, 0.0, 1.0), 0.0)
    mobile_share = (log.running_mobile[last + 1] - log.running_mobile[first]) / n
    matrix = np.column_stack(
        [
            recency,
            n.astype(float),
            spend_cents / 100.0,
            (day - log.day[first]).astype(float),
            interval,
            overdue,
            returns_rate,
            mobile_share,
        ]
    )
    return Features(log.customer_ids[has], matrix, n)


# The model ------------------------------------------------------------------------------------------

# Reasons as JSON texts and each customer's position among them (see churn.encode_reasons).
Reasons = tuple[tuple[str, ...], np.ndarray]


@dataclass
class Ensemble:
    """The fitted trees as plain arrays: risk = expit(baseline + Σ leaf values), as scikit-learn sums them.

    scikit-learn keeps its trees in private attributes (`_predictors`, `_baseline_prediction`); the
    test of incremental scoring checks that these arrays reproduce its predictions exactly.
    """

    baseline: float
    trees: list[dict[str, np.ndarray]]

    NODE_FIELDS = ("feature_idx", "num_threshold", "missing_go_to_left", "left", "right", "is_leaf", "value")

    @classmethod
    def of(cls, estimator: "HistGradientBoostingClassifier") -> "Ensemble":
        trees = []
        for (predictor,) in estimator._predictors:
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                raise ValueError("categorical splits are not supported")
            trees.append({name: np.array(nodes[name]) for name in cls.NODE_FIELDS})
        return cls(float(estimator._baseline_prediction.ravel()[0]), trees)

    def risk(self, matrix: np.ndarray) -> np.ndarray:
        raw = np.full(len(matrix), self.baseline)
        rows = np.arange(len(matrix))
        for tree in self.trees:
            node = np.zeros(len(matrix), dtype=np.intp)
            while True:
                inner = ~tree["is_leaf"][node].astype(bool)
                if not inner.any():
                    break
                value = matrix[rows, tree["feature_idx"][node]]
                left = np.where(
                    np.isnan(value),
                    tree["missing_go_to_left"][node] == 1,
                    value <= tree["num_threshold"][node],
                )
                node = np.where(inner, np.where(left, tree["left"][node], tree["right"][node]), node)
            raw += tree["value"][node]
        return expit(raw)

    def to_json(self) -> dict:
        trees = []
        for tree in self.trees:
            leaf = tree["is_leaf"].astype(bool)
            threshold = np.where(leaf, 0.0, tree["num_threshold"])
            trees.append(
                {
                    "feature": tree["feature_idx"].tolist(),
                    # A split may send every value one way (+inf): JSON has no infinities, null stands in.
                    "threshold": [v if np.isfinite(v) else None for v in threshold.tolist()],
                    "missing_left": tree["missing_go_to_left"].tolist(),
                    "left": tree["left"].tolist(),
                    "right": tree["right"].tolist(),
                    "leaf": leaf.astype(int).tolist(),
                    "value": np.where(leaf, tree["value"], 0.0).tolist(),
                }
            )
        return {"baseline": self.baseline, "trees": trees}

    @classmethod
    def from_json(cls, data: dict) -> "Ensemble":
        trees = [
            {
                "feature_idx": np.array(tree["feature"], dtype=np.intp),
                "num_threshold": np.array(
                    [np.inf if v is None else v for v in tree["threshold"]], dtype=float
                ),
                "missing_go_to_left": np.array(tree["missing_left"], dtype=np.uint8),
                "left": np.array(tree["left"], dtype=np.intp),
                "right": np.array(tree["right"], dtype=np.intp),
                "is_leaf": np.array(tree["leaf"], dtype=np.uint8),
                "value": np.array(tree["value"], dtype=float),
            }
            for tree in data["trees"]
        ]
        return cls(float(data["baseline"]), trees)


@dataclass
class Explainer:
    """Partial dependence of the risk on each feature, tabulated once, to explain any customer cheaply."""

    grids: list[list[float]]
    dependence: list[list[float]]
    missing: list[float | None]  # partial dependence with the feature NaN, where training saw NaN
    reference: list[float]  # partial dependence at the training median
    candidates: list[bool]  # features that may be reasons (positive permutation importance)

    @classmethod
    def of(cls, model: "ChurnModel", training: np.ndarray, importance: np.ndarray) -> "Explainer":
        rng = np.random.default_rng(SEED)
        background = training[np.sort(rng.permutation(len(training))[:DEPENDENCE_CUSTOMERS])]
        grids, dependence, missing, reference = [], [], [], []
        for j in range(training.shape[1]):
            column = training[:, j]
            present = column[~np.isnan(column)]
            grid = (
                np.unique(np.quantile(present, np.linspace(0, 1, DEPENDENCE_GRID)))
                if len(present)
                else np.zeros(0)
            )
            with_missing = len(present) < len(column)
            values = np.r_[grid, np.nan] if with_missing else grid
            stacked = np.repeat(background[np.newaxis], len(values), axis=0)
            stacked[:, :, j] = values[:, np.newaxis]
            means = (
                model.predict(stacked.reshape(-1, training.shape[1])).reshape(len(values), -1).mean(axis=1)
            )
            grids.append([float(v) for v in grid])
            dependence.append([float(v) for v in means[: len(grid)]])
            missing.append(float(means[-1]) if with_missing else None)
            if len(present):
                reference.append(float(np.interp(np.median(present), grid, means[: len(grid)])))
            else:
                reference.append(float(means[-1]))
        return cls(grids, dependence, missing, reference, [bool(v > 0) for v in importance])

    def reasons(self, matrix: np.ndarray) -> "Reasons":
        """Each customer's reasons as churn.encode_reasons returns them.

        A feature missing for a customer (no interval before a second order day) is no reason in itself:
        its effect counts toward the number of orders, which is what makes it missing."""
        effects = np.zeros(matrix.shape)
        orders = FEATURES.index("orders")
        for j, grid in enumerate(self.grids):
            column, reference, missing = matrix[:, j], self.reference[j], self.missing[j]
            at = np.interp(column, grid, self.dependence[j]) if grid else np.full(len(column), reference)
            unknown = np.isnan(column)
            effect = np.where(unknown, reference if missing is None else missing, at) - reference
            if self.candidates[j]:
                effects[:, j] += np.where(unknown, 0.0, effect)
            effects[:, orders] += np.where(unknown, effect, 0.0)
        shown = [j for j in range(len(FEATURES)) if self.candidates[j] or j == orders]
        return churn.encode_reasons(effects[:, shown], tuple(FEATURES[j] for j in shown), MIN_EFFECT)

    def to_json(self) -> dict:
        return {
            "grids": self.grids,
            "dependence": self.dependence,
            "missing": self.missing,
            "reference": self.reference,
            "candidates": self.candidates,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Explainer":
        return cls(data["grids"], data["dependence"], data["missing"], data["reference"], data["candidates"])


class ChurnModel:
    """A fitted churn model: each customer's risk (P(no order within the horizon)) and reasons.

    Within one refresh it remembers the first batch it scored (normally the organisation-wide
    customers); a later batch (a unit's) reuses the risk of every customer whose feature row is the same.
    """

    def __init__(
        self, estimator: "HistGradientBoostingClassifier | None" = None, ensemble: Ensemble | None = None
    ):
        self.estimator = estimator
        self.ensemble = ensemble
        self.explainer: Explainer | None = None
        # The first batch scored with and without reasons: (features, risk, reasons).
        self._memo: dict[bool, tuple[Features, np.ndarray, Reasons]] = {}

    @classmethod
    def fit(cls, matrix: np.ndarray, churned: np.ndarray) -> "ChurnModel":
        # Imported here: importing scikit-learn takes seconds, which every process importing the refresh
        # (the web server, the CLI) would pay; only full refreshes with enough history fit a model.
        from sklearn.ensemble import HistGradientBoostingClassifier

        estimator = HistGradientBoostingClassifier(**HYPERPARAMETERS)
        with threadpool_limits(limits=THREADS, user_api="openmp"):
            estimator.fit(matrix, churned)
        return cls(estimator)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        if not len(matrix):
            return np.zeros(0)
        if self.estimator is None:
            assert self.ensemble is not None
            return self.ensemble.risk(matrix)
        with threadpool_limits(limits=THREADS, user_api="openmp"):
            return self.estimator.predict_proba(matrix)[:, 1]

    def risk(self, features: Features) -> np.ndarray:
        return self.score(features, explain=False)[0]

    def score(self, features: Features, explain: bool = True) -> tuple[np.ndarray, Reasons]:
        """Risk and (with `explain`) reasons of each customer; rows equal to the first batch's reuse its."""
        memo = self._memo.get(explain)
        same, at = self._known_rows(features, memo[0] if memo else None)
        fresh = ~same
        risk = np.empty(len(features.customer_ids))
        risk[fresh] = self.predict(features.matrix[fresh])
        texts: tuple[str, ...] = ()
        codes = np.zeros(len(risk), dtype=np.int64)
        if explain:
            assert self.explainer is not None
            texts, codes[fresh] = self.explainer.reasons(features.matrix[fresh])
        if memo is None:
            self._memo[explain] = (features, risk, (texts, codes))
        elif same.any():
            _known, known_risk, (known_texts, known_codes) = memo
            risk[same] = known_risk[at[same]]
            codes[fresh] += len(known_texts)
            codes[same] = known_codes[at[same]]
            texts = (*known_texts, *texts)
        return risk, (texts, codes)

    @staticmethod
    def _known_rows(features: Features, known: Features | None) -> tuple[np.ndarray, np.ndarray]:
        """Which customers have the feature row they had in `known`, and where it is there."""
        count = len(features.customer_ids)
        if known is None or not len(known.customer_ids) or not count:
            return np.zeros(count, dtype=bool), np.zeros(count, dtype=np.intp)
        at = np.minimum(
            np.searchsorted(known.customer_ids, features.customer_ids), len(known.customer_ids) - 1
        )
        theirs, ours = known.matrix[at], features.matrix
        same = (known.customer_ids[at] == features.customer_ids) & np.all(
            (theirs == ours) | (np.isnan(theirs) & np.isnan(ours)), axis=1
        )
        return same, at

    def to_json(self) -> dict:
        assert self.explainer is not None
        ensemble = self.ensemble
        if ensemble is None:
            assert self.estimator is not None
            ensemble = Ensemble.of(self.estimator)
        return {"features": list(FEATURES), **ensemble.to_json(), "reasons": self.explainer.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> "ChurnModel | None":
        """The stored model, or None when it was trained on other features (by an older version)."""
        if data.get("features") != list(FEATURES):
            return None
        model = cls(ensemble=Ensemble.from_json(data))
        model.explainer = Explainer.from_json(data["reasons"])
        return model


# Choosing between the supervised model and P(alive) -------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Supervised risk and reasons of a scope's buyers (customer id order), for the metric rows."""

    customer_ids: np.ndarray
    risk: np.ndarray
    reasons: Reasons


@dataclass
class Outcome:
    """What a full run found for one scope; `describe()` goes into the run's parameters."""

    auc: float | None = None
    compared_with: float | None = None
    skipped: Skip | None = None
    scores: Scores | None = None
    model: ChurnModel | None = None
    details: dict = field(default_factory=dict)

    @property
    def used(self) -> bool:
        return self.scores is not None

    def describe(self) -> dict:
        return {
            "used": self.used,
            "auc": _rounded(self.auc),
            "compared_with": _rounded(self.compared_with),
            "skipped": str(self.skipped or ""),
            **self.details,
        }


@dataclass
class _Training:
    model: ChurnModel | None = None
    skipped: Skip | None = None
    customers: int = 0
    matrix: np.ndarray | None = None


class Trainer:
    """Trains on the first scope it is given, then decides scope by scope whether the model is used."""

    def __init__(self, as_of_day: int, horizon_days: int) -> None:
        self.as_of_day = as_of_day
        self.horizon_days = horizon_days
        self._root: PurchaseLog | None = None
        self._cutoff_day: int | None = None
        self._evaluation = _Training(skipped=Skip.NO_BACKTEST)
        self._root_holdout: tuple[np.ndarray, np.ndarray] | None = None
        self._production: _Training | None = None
        self._importance: np.ndarray | None = None

    def evaluate(self, log: PurchaseLog, report: Any) -> Outcome:
        """Supervised against P(alive) on the holdout of `report` (a BacktestReport, or None); when the
        supervised AUC is strictly the higher, the scope's buyers are scored with the production model."""
        started = time.perf_counter()
        holdout = getattr(report, "holdout", None)
        if self._root is None:
            self._root = log
            if holdout is not None:
                self._cutoff_day = _day_number(report.cutoff)
                length = _day_number(report.end) - self._cutoff_day
                self._evaluation = _train(log, self._cutoff_day - length, length)
        outcome = self._compare(log, report)
        if (
            outcome.auc is not None
            and outcome.compared_with is not None
            and outcome.auc > outcome.compared_with
        ):
            production = self._production_model()
            if production.model is None:
                outcome.details["production_skipped"] = str(production.skipped)
            else:
                buyers = features_at(log, self.as_of_day)
                outcome.scores = Scores(buyers.customer_ids, *production.model.score(buyers))
                outcome.model = production.model
                outcome.details["training_customers"] = production.customers
                outcome.details["importance"] = dict(
                    zip(FEATURES, map(_rounded, self._importances()), strict=True)
                )
        logger.info(
            "supervised churn: AUC %s against %s (%s) in %.2f s",
            outcome.auc,
            outcome.compared_with,
            "used" if outcome.used else outcome.skipped or "not better",
            time.perf_counter() - started,
        )
        return outcome

    def _compare(self, log: PurchaseLog, report: Any) -> Outcome:
        holdout = getattr(report, "holdout", None)
        if holdout is None:
            return Outcome(skipped=Skip.NO_BACKTEST)
        outcome = Outcome(compared_with=report.churn_auc, details={"horizon_days": self.horizon_days})
        if self._cutoff_day is not None and _day_number(report.cutoff) != self._cutoff_day:
            outcome.skipped = Skip.OTHER_CUTOFF
            return outcome
        evaluation = self._evaluation
        if evaluation.model is None:
            outcome.skipped = evaluation.skipped
            return outcome
        assert self._cutoff_day is not None
        outcome.details["evaluation_training_customers"] = evaluation.customers
        churned = np.asarray(holdout.churned, dtype=bool)
        skip = _too_few(churned)
        if skip is not None:
            outcome.skipped = skip
            return outcome
        scored = features_at(log, self._cutoff_day)
        if not np.array_equal(scored.customer_ids, holdout.customer_ids):
            raise ValueError("the backtest and the features disagree on who had bought by the cut-off")
        outcome.auc = churn.auc(evaluation.model.risk(scored), churned)
        if log is self._root:
            self._root_holdout = (scored.matrix, churned)
        return outcome

    def _production_model(self) -> _Training:
        if self._production is None:
            assert self._root is not None
            self._production = _train(self._root, self.as_of_day - self.horizon_days, self.horizon_days)
            model, matrix = self._production.model, self._production.matrix
            if model is not None and matrix is not None:
                model.explainer = Explainer.of(model, matrix, self._importances())
        return self._production

    def _importances(self) -> np.ndarray:
        """Permutation importance (the drop in AUC) of each feature for the evaluation model, on a sample
        of the first scope's backtest holdout; once per run."""
        if self._importance is None:
            model = self._evaluation.model
            if model is None or self._root_holdout is None:
                self._importance = np.ones(len(FEATURES))  # nothing to measure on: any feature may explain
            else:
                rng = np.random.default_rng(SEED)
                matrix, churned = self._root_holdout
                rows = np.sort(rng.permutation(len(churned))[:IMPORTANCE_CUSTOMERS])
                matrix, churned = matrix[rows], churned[rows]
                base = churn.auc(model.predict(matrix), churned) or 0.5
                importance = []
                for j in range(matrix.shape[1]):
                    shuffled = matrix.copy()
                    shuffled[:, j] = rng.permutation(shuffled[:, j])
                    importance.append(base - (churn.auc(model.predict(shuffled), churned) or 0.5))
                self._importance = np.array(importance)
        return self._importance


def score(model: ChurnModel, log: PurchaseLog, day: int) -> Scores:
    """Risk and reasons of every buyer in `log` from a stored model (incremental runs)."""
    buyers = features_at(log, day)
    return Scores(buyers.customer_ids, *model.score(buyers))


def _train(log: PurchaseLog, cutoff_day: int, horizon_days: int) -> _Training:
    """Features at `cutoff_day`, label = no order in the next `horizon_days`, and the model fitted to them."""
    first_day = log.first_day
    if first_day is None or cutoff_day - first_day < MIN_HISTORY_DAYS:
        return _Training(skipped=Skip.SHORT_HISTORY)
    counts = log.counts_at(cutoff_day)
    rows = np.flatnonzero(counts > 0)
    churned = log.counts_at(cutoff_day + horizon_days)[rows] == counts[rows]
    skip = _too_few(churned)
    if skip is not None:
        return _Training(skipped=skip, customers=len(churned))
    if len(rows) > MAX_TRAINING_CUSTOMERS:
        sample = np.sort(np.random.default_rng(SEED).permutation(len(rows))[:MAX_TRAINING_CUSTOMERS])
        rows, churned = rows[sample], churned[sample]
    matrix = features_at(log, cutoff_day, counts[rows], rows).matrix
    started = time.perf_counter()
    model = ChurnModel.fit(matrix, churned)
    logger.info(
        "supervised churn: fitted on %d customers in %.2f s", len(churned), time.perf_counter() - started
    )
    return _Training(model=model, customers=len(churned), matrix=matrix)


def _too_few(churned: np.ndarray) -> Skip | None:
    if len(churned) < MIN_CUSTOMERS:
        return Skip.TOO_FEW_CUSTOMERS
    if int(churned.sum()) < MIN_CUSTOMERS_PER_CLASS:
        return Skip.TOO_FEW_CHURNED
    if int((~churned).sum()) < MIN_CUSTOMERS_PER_CLASS:
        return Skip.TOO_FEW_RETAINED
    return None


def _day_number(value) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)
