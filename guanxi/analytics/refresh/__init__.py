"""The metrics refresh: read orders into numpy, compute every customer metric vectorised, and replace
the stored rows of each scope (organisation-wide, each business unit) in one transaction.

A full run reads every sale order, refits the BG/NBD and Gamma-Gamma models, recomputes the score
breakpoints (RFM quintiles, ABC cut-offs), backtests, and trains the supervised churn model, which
replaces the P(alive)-based risk of the scopes where it backtests better (see supervised.py). An
incremental run recomputes only customers with orders, returns, links or profiles added since the last
successful run (rows above the ids it recorded), with the stored models (the supervised one included),
breakpoints and backtest; it turns into a full run when there is none or the last fit is older than
REFIT_AFTER_DAYS. Either way nothing is written until everything is computed, so a failed run keeps
the previous metrics.

By concern: `arrays` (the numpy shapes), `read` (orders, returns and customers into numpy), `compute`
(every metric of a scope), `write` (rows into the metrics table), `rebuild` (a whole table rewritten
and swapped in), `runs` (the run itself and its bookkeeping).

Where the time goes at a million customers on PostgreSQL (see bench/analytics.py): reading the orders
(array_agg of each column, decoded as numpy), sorting them once, fitting, and writing two million
metric rows (binary COPY into a temporary table, then one INSERT … SELECT per scope; a full refresh of
every scope writes into a new table and builds its indexes afterwards, see rebuild.py).
"""

from guanxi.analytics.refresh.read import read_orders, read_returns
from guanxi.analytics.refresh.runs import refresh_metrics

__all__ = ["read_orders", "read_returns", "refresh_metrics"]
