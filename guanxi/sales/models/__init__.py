"""The sales app's models, by subject: rules, accounts, leads, the pipeline, activities, targets."""

from guanxi.sales.models.accounts import Account, Contact
from guanxi.sales.models.activities import Activity, Notification
from guanxi.sales.models.leads import Lead, LeadForm, LeadTransfer
from guanxi.sales.models.pipeline import (
    Competitor,
    ForecastCategory,
    Opportunity,
    OpportunityCompetitor,
    OpportunityLine,
    Pipeline,
    Quote,
    Stage,
    StageChange,
)
from guanxi.sales.models.rules import SalesRules
from guanxi.sales.models.targets import Quota, SalesPlan

__all__ = [
    "Account",
    "Activity",
    "Competitor",
    "Contact",
    "ForecastCategory",
    "Lead",
    "LeadForm",
    "LeadTransfer",
    "Notification",
    "Opportunity",
    "OpportunityCompetitor",
    "OpportunityLine",
    "Pipeline",
    "Quota",
    "Quote",
    "SalesPlan",
    "SalesRules",
    "Stage",
    "StageChange",
]
