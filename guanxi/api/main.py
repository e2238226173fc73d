"""The /api/v1/ root: one NinjaAPI with token-or-session auth, problem+json errors and the
per-app routers (each app's `api.py`) mounted under it."""

from typing import Any

from ninja import NinjaAPI
from ninja.openapi import schema as ninja_openapi
from ninja.schema import NinjaGenerateJsonSchema
from pydantic.json_schema import DefsRef

from guanxi.accounts.api import router as accounts_router
from guanxi.accounts.api_auth import session_auth, token_auth
from guanxi.analytics.api import router as analytics_router
from guanxi.api.errors import PROBLEM_CONTENT_TYPE, install_problem_handlers
from guanxi.api.schemas import Problem
from guanxi.commerce.api import router as commerce_router
from guanxi.core.api import router as core_router
from guanxi.customers.api import router as customers_router
from guanxi.loyalty.api import router as loyalty_router
from guanxi.marketing.api import router as marketing_router
from guanxi.messaging.api import router as messaging_router
from guanxi.privacy.api import router as privacy_router
from guanxi.sales.api import router as sales_router
from guanxi.segments.api import router as segments_router
from guanxi.service.api import router as service_router

DESCRIPTION = """\
The Guanxi CRM REST API.

Authenticate with a personal API token (`Authorization: Bearer gx_…`, created under your
account or with `POST /api/v1/tokens` from a signed-in session) or with the browser session.
Read-only tokens may only use GET. Errors are `application/problem+json` (RFC 9457). Lists are
cursor-paginated: pass `next_cursor` back as `cursor` until it is null. Each token (or user, for
the session) may make a limited number of calls per minute; the `RateLimit-*` headers say how
many remain, and a 429 carries `Retry-After`.
"""


class QualifiedNestedNames(NinjaGenerateJsonSchema):
    """Names a class nested in another by both (Campaign.Status → CampaignStatus).

    ninja renders each operation's models alone and merges their definitions into one components map
    by name, so the choices nested in different models (Campaign.Status, Order.Status, Lead.Status) all
    became "Status" and the last one won: the document then gave one field another's values, and a
    client or a fuzzer checking answers against it saw violations where there were none."""

    def get_defs_ref(self, core_mode_ref: Any) -> DefsRef:
        defs_ref = super().get_defs_ref(core_mode_ref)
        core_ref = core_mode_ref[0]
        if "[" not in core_ref:
            parts = core_ref.rsplit(":", 1)[0].split(".")
            classes: list[str] = []
            for part in reversed(parts):
                if not part[:1].isupper():
                    break
                classes.insert(0, part)
            if len(classes) > 1:
                qualified = DefsRef(self.normalize_name("".join(classes)))
                self._prioritized_defsref_choices[defs_ref].insert(0, qualified)
        return defs_ref


# ninja picks its generator from this module attribute for every operation; ours only adds a first
# choice of name for nested classes.
ninja_openapi.NinjaGenerateJsonSchema = QualifiedNestedNames  # type: ignore[misc]


class GuanxiAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        _document_problems(schema)
        return schema


def _document_problems(schema: dict[str, Any]) -> None:
    """Declare the problem+json error body as every operation's default response."""
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(problem_schema.pop("$defs", {}))
    components["Problem"] = problem_schema
    default = {
        "description": "Error (RFC 9457 problem details)",
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.setdefault("responses", {}).setdefault("default", default)


api = GuanxiAPI(
    title="Guanxi API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=[token_auth, session_auth],
)
install_problem_handlers(api)
api.add_router("", accounts_router)
api.add_router("", customers_router)
api.add_router("", commerce_router)
api.add_router("", core_router)
api.add_router("", analytics_router)
api.add_router("", segments_router)
api.add_router("", messaging_router)
api.add_router("", sales_router)
api.add_router("", service_router)
api.add_router("", loyalty_router)
api.add_router("", marketing_router)
api.add_router("", privacy_router)
