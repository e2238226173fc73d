"""Sales endpoints under /api/v1/sales/: leads, opportunities, activities, accounts, pipelines, the
forecast and notifications. Reads are scoped by restrict() (a rep's own records); writes call the
sales actions."""

from guanxi.sales.api import accounts, activities, leads, opportunities  # noqa: F401 (they add endpoints)
from guanxi.sales.api.routing import router

__all__ = ["router"]
