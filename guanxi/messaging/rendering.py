"""Templates: checked when saved, rendered in a sandbox, measured in SMS segments.

Templates are Jinja in a `SandboxedEnvironment` with no globals and strict undefined values: a template
cannot reach Python objects, loop forever over ranges or print a blank where a variable was missing.
`check()` finds every problem before a version is saved (syntax, unknown variables, the marketing SMS
rules); `render()` fills a version for one recipient.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from guanxi.messaging.models import Medium, Purpose
from guanxi.messaging.variables import examples, template_variables

LANGUAGES = ("zh-hans", "en")
DEFAULT_LANGUAGE = "zh-hans"
# Marketing SMS in China must say how to refuse more (MIIT rules); carriers look for this wording.
OPT_OUT_TEXT = {"zh-hans": "回复TD退订", "en": "Reply TD to unsubscribe"}
SMS_MAX_CHARACTERS = 500  # Alibaba Cloud's limit for one message, signature included
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")

_environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_environment.globals.clear()


@dataclass(frozen=True)
class Problem:
    language: str
    part: str  # "subject", "body", "fields.thing1", "" for the whole template
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"language": self.language, "part": self.part, "message": self.message}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SmsLength:
    characters: int
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int


class RenderError(Exception):
    """A version could not be filled for a recipient (a provider returned no value for a variable)."""


def sms_text(signature: str, body: str) -> str:
    """The text as the phone shows it: 【店铺名】 first."""
    return f"【{signature}】{body}" if signature else body


def sms_length(text: str) -> SmsLength:
    """Characters and billed segments: 70 UCS-2 (Chinese) characters fit one SMS and 67 each part of a
    long one; GSM-7 text 160 and 153, its extended characters counting twice."""
    if all(char in GSM7 or char in GSM7_EXTENDED for char in text):
        units = sum(2 if char in GSM7_EXTENDED else 1 for char in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else math.ceil(units / part)
    return SmsLength(characters=len(text), encoding=encoding, segments=segments if text else 0)


def parts_of(contents: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(part name, source) of one language's contents."""
    parts = [("subject", contents.get("subject") or ""), ("body", contents.get("body") or "")]
    parts += [(f"fields.{name}", text or "") for name, text in (contents.get("fields") or {}).items()]
    return parts


def check(
    medium: str, purpose: str, contents: Mapping[str, Mapping[str, Any]], *, provider_template: str = ""
) -> list[Problem]:
    """Every problem of a template's contents; empty when it may be saved."""
    problems: list[Problem] = []
    if not any((contents.get(language) or {}).get("body") for language in LANGUAGES):
        problems.append(Problem("", "body", _("Write the message in at least one language.")))
    if medium == Medium.WECHAT and purpose == Purpose.MARKETING:
        problems.append(
            Problem("", "", _("WeChat template messages may carry service notices only, never marketing."))
        )
    if medium == Medium.WECHAT and not provider_template:
        problems.append(Problem("", "provider_template", _("Give the WeChat template id.")))
    for language, values in contents.items():
        if language not in LANGUAGES:
            problems.append(
                Problem(language, "", _("Unknown language %(language)s.") % {"language": language})
            )
            continue
        if not values.get("body"):
            continue
        problems += _check_language(medium, purpose, language, values)
    return problems


def _check_language(medium: str, purpose: str, language: str, values: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    known = template_variables()
    for part, source in parts_of(values):
        try:
            tree = _environment.parse(source)
        except TemplateSyntaxError as error:
            problems.append(
                Problem(
                    language,
                    part,
                    _("Line %(line)s: %(error)s") % {"line": error.lineno, "error": error.message},
                )
            )
            continue
        problems += [Problem(language, part, message) for message in _unknown_variables(tree, known)]
    if problems:
        return problems
    try:
        rendered = render(values, examples())
    except RenderError as error:
        return [Problem(language, "", str(error))]
    if medium == Medium.EMAIL and not rendered.subject.strip():
        problems.append(Problem(language, "subject", _("An email needs a subject.")))
    if medium == Medium.SMS:
        if "【" in rendered.body or "】" in rendered.body:
            problems.append(
                Problem(language, "body", _("Leave out 【…】: the channel adds the shop's signature itself."))
            )
        if purpose == Purpose.MARKETING and OPT_OUT_TEXT[language] not in rendered.body:
            problems.append(
                Problem(
                    language,
                    "body",
                    _("A marketing SMS must say how to opt out: add “%(text)s”.")
                    % {"text": OPT_OUT_TEXT[language]},
                )
            )
        if len(rendered.body) > SMS_MAX_CHARACTERS:
            problems.append(
                Problem(
                    language,
                    "body",
                    _("At most %(max)s characters in one SMS.") % {"max": SMS_MAX_CHARACTERS},
                )
            )
    return problems


def _unknown_variables(tree: nodes.Template, known: Mapping[str, Any]) -> list[str]:
    """Messages for every variable the registry does not offer; loop and set variables are local."""
    local = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    messages: list[str] = []
    qualified: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        target = node.node
        if not isinstance(target, nodes.Name) or target.name in local:
            continue
        qualified.add(id(target))
        attribute = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        namespace = known.get(target.name)
        if namespace is None:
            messages.append(_("Unknown variable “%(name)s”.") % {"name": target.name})
        elif attribute not in namespace.fields:
            messages.append(
                _("“%(name)s.%(field)s” does not exist; %(name)s has: %(fields)s.")
                % {"name": target.name, "field": attribute, "fields": ", ".join(namespace.fields)}
            )
    for node in tree.find_all(nodes.Name):
        if node.ctx != "load" or node.name in local or id(node) in qualified:
            continue
        if node.name in known:
            messages.append(
                _("Name a field of “%(name)s”, such as %(name)s.%(field)s.")
                % {"name": node.name, "field": next(iter(known[node.name].fields))}
            )
        else:
            messages.append(_("Unknown variable “%(name)s”.") % {"name": node.name})
    return sorted(set(messages))


def render(contents: Mapping[str, Any], variables: Mapping[str, Any]) -> Rendered:
    """One language's contents filled with `variables` ({namespace: {field: value}})."""
    try:
        filled = {
            part: _environment.from_string(source).render(variables) for part, source in parts_of(contents)
        }
    except TemplateError as error:
        raise RenderError(_("The template could not be filled: %(error)s") % {"error": error}) from error
    return Rendered(
        subject=filled.pop("subject").strip(),
        body=filled.pop("body").strip(),
        fields={name.removeprefix("fields."): value.strip() for name, value in filled.items()},
    )


def pick_language(contents: Mapping[str, Any], wanted: str) -> str:
    """The recipient's language if the template has it, else the default, else whichever it has."""
    for language in (wanted, DEFAULT_LANGUAGE, *LANGUAGES):
        if (contents.get(language) or {}).get("body"):
            return language
    return wanted
