"""Stored codes put into words in the reader's language, at display time.

What outlives the request that wrote it (audit entries, import reports, choice values) is stored as
a code and read later by someone using another language, so it is translated when shown, never when
written. Two shapes:

- a choice value ("wechat_mp") is shown by its TextChoices label: `label_of(Channel, value)`;
- a sentence with values in it is stored as a `Coded` (code + params) made by calling a `Phrase`
  declared once in the writing app's `phrases.py` (every app's is imported when Django starts):

      TAG_ADDED = Phrase("customers.tag_added", _("Tag “%(tag)s” added"))
      audit.record(..., message=TAG_ADDED(tag=tag.name))

  and shown with `render(code, params)`. A parameter that is itself a code is translated too when
  the phrase names its choices (`labels={"channel": ConsentChannel}`).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import models
from django.utils.functional import Promise

Labeller = type[models.Choices] | Callable[[Any], Any]


def label_of(choices: type[models.Choices], value: Any) -> str:
    """The label of `value` in the active language; a value that is not one of the choices as it is."""
    return str(choices(value).label) if value in choices.values else ("" if value is None else str(value))


@dataclass(frozen=True)
class Coded:
    """A phrase's code and its parameters: what is stored (JSON-safe values only)."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return render(self.code, self.params)


class Phrase:
    """A sentence, declared once under a code; calling it with the parameters gives what to store."""

    code: str
    text: str | Promise
    labels: dict[str, Labeller]

    def __init__(
        self, code: str, text: str | Promise, *, labels: Mapping[str, Labeller] | None = None
    ) -> None:
        known = PHRASES.get(code)
        if known is not None and known.text != text:
            raise ValueError(f"The phrase code {code!r} is declared twice with different texts")
        self.code, self.text, self.labels = code, text, dict(labels or {})
        PHRASES[code] = self

    def __call__(self, **params: Any) -> Coded:
        return Coded(self.code, params)

    def __repr__(self) -> str:
        return f"Phrase({self.code!r})"

    def render(self, params: Mapping[str, Any]) -> str:
        shown = {name: self._shown(name, value) for name, value in params.items()}
        try:
            return str(self.text) % shown
        except (KeyError, TypeError, ValueError):
            # A row written by an older version with other parameters: the words without them.
            return str(self.text)

    def _shown(self, name: str, value: Any) -> Any:
        labeller = self.labels.get(name)
        if labeller is None:
            return value
        if isinstance(labeller, type) and issubclass(labeller, models.Choices):
            return label_of(labeller, value)
        return cast(Callable[[Any], Any], labeller)(value)


PHRASES: dict[str, Phrase] = {}


def render(code: str, params: Mapping[str, Any] | None = None, fallback: str = "") -> str:
    """The phrase `code` in the active language; `fallback` (the text stored by older versions,
    shown as it was written) when no phrase has that code."""
    phrase = PHRASES.get(code)
    if phrase is None:
        return fallback or code
    return phrase.render(params or {})
