"""What a template looks like for a real customer (or the registered examples): the editor's preview."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from guanxi.messaging import gates, rendering
from guanxi.messaging.models import Medium, Template
from guanxi.messaging.variables import examples, load_variables


@dataclass(frozen=True)
class Preview:
    subject: str
    body: str
    fields: dict[str, str]
    characters: int
    segments: int | None  # SMS only
    encoding: str


def preview_contents(medium: str, contents: Mapping[str, Any], customer: Any, unit: Any) -> Preview:
    """Render one language's contents with `customer`'s data (None: the examples); ValidationError when
    it cannot be filled."""
    if customer is not None:
        variables = load_variables([customer.pk], {}, unit)[customer.pk]
        variables.setdefault("message", {})["unsubscribe_url"] = examples()["message"]["unsubscribe_url"]
    else:
        variables = examples()
    try:
        rendered = rendering.render(contents, variables)
    except rendering.RenderError as error:
        raise ValidationError(str(error)) from None
    body = rendered.body
    if medium == Medium.SMS:
        signature = gates.policies([unit.pk])[unit.pk].sms_signature if unit else ""
        body = rendering.sms_text(signature or _("Shop name"), body)
        length = rendering.sms_length(body)
        return Preview(
            rendered.subject, body, rendered.fields, length.characters, length.segments, length.encoding
        )
    return Preview(rendered.subject, body, rendered.fields, len(body), None, "")


def preview(template: Template, customer: Any, language: str, user: Any) -> Preview:
    version = template.current_version
    if version is None:
        raise ValidationError(_("The template has no saved version yet."))
    contents = version.contents
    unit = template.unit or user.only_unit()
    return preview_contents(
        template.medium, contents[rendering.pick_language(contents, language)], customer, unit
    )
