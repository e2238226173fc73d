"""The committed OpenAPI document (docs/api/openapi.json): how it is rendered and where it lives."""

import json
from pathlib import Path

from django.conf import settings
from django.utils import translation
from ninja.responses import NinjaJSONEncoder

from guanxi.api.main import api

OPENAPI_PATH = Path(settings.PACKAGE_DIR).parent / "docs" / "api" / "openapi.json"


def render_openapi() -> str:
    """The schema as committed: sorted keys, two-space indent, trailing newline, English texts."""
    with translation.override("en"):
        schema = api.get_openapi_schema(path_prefix="/api/v1/")
        # Round-trip first: response codes are int keys, which cannot be sorted beside str keys.
        plain = json.loads(json.dumps(schema, cls=NinjaJSONEncoder))
    return json.dumps(plain, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
