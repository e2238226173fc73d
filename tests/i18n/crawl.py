"""What a page says to its reader, and what in it is not Chinese: the crawl of tests/i18n and the
browser flows of tests/e2e share these checks.

The visible text of a page is its text nodes, the placeholder, title and aria-label attributes and
the strings of the chart data it embeds (json_script); identifiers the page marks as such (<code>,
class "mono": a store's source, a SKU, a field key) are left out, as are e-mail addresses and URLs.
In what remains, a snake_case or dotted code (wechat_mp, profile.gender) is a raw code, and a word in
Latin letters that is neither an acronym, a brand, nor found in the shop's own data is English that
was not translated.
"""

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser

from django.utils import translation

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SKIPPED_TAGS = {"script", "style", "code", "template", "svg", "pre"}
ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")
# Keys of chart data that hold codes for charts.js rather than words for the reader.
CHART_CODE_KEYS = {"kind"}

CODE = re.compile(r"(?<![\w./@:#-])(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[a-z]+(?:\.[a-z][a-z_]*)+)(?![\w/@-])")
WORD = re.compile(r"[A-Za-z][A-Za-z’']*[A-Za-z]|[A-Za-z]")
EMAIL = re.compile(r"[\w.*+-]+@[\w.-]+\.[a-z]{2,}")
URL = re.compile(r"(?:https?://|(?<!\w)/)[\w./?=&%:#+-]+")
# Names that are the same in every language: brands, platforms, formats, models, units of the domain.
NAMES = {
    "Guanxi",
    "WeChat",
    "Weibo",
    "Tmall",
    "Taobao",
    "Douyin",
    "Shopify",
    "WooCommerce",
    "Webhook",
    "Webhooks",
    "webhook",
    "unionid",
    "UnionID",
    "openid",
    "Excel",
    "English",
    "Pareto",
    "Gamma",
    "Gamma-Gamma",
    "NBD",
    "BG",
    "Asia",
    "Shanghai",
    # The public dataset the Online Retail import reads is known by that name.
    "Online",
    "Retail",
}


def is_acronym(word: str) -> bool:
    return word.isupper() and len(word) <= 6


class VisibleText(HTMLParser):
    """Collects what a reader sees (and hears from a screen reader) on a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[bool] = []  # per open element: does it hide its content?
        self.chart_data: list[str] = []
        self._json = False

    @property
    def hidden(self) -> bool:
        return any(self.stack)

    def handle_starttag(self, tag, attrs):
        named = dict(attrs)
        classes = (named.get("class") or "").split()
        self._json = tag == "script" and named.get("type") == "application/json"
        if not self.hidden:
            self.parts.extend(named[name] for name in ATTRIBUTES if named.get(name))
            if tag == "input" and named.get("type") in ("submit", "button") and named.get("value"):
                self.parts.append(named["value"])
        if tag not in VOID:
            self.stack.append(tag in SKIPPED_TAGS or "mono" in classes)

    def handle_endtag(self, tag):
        if tag not in VOID and self.stack:
            self.stack.pop()
        self._json = False

    def handle_data(self, data):
        if self._json:
            self.chart_data.append(data)
        elif not self.hidden:
            self.parts.append(data)

    def text(self) -> str:
        words = list(self.parts)
        for blob in self.chart_data:
            words.extend(_strings(json.loads(blob)))
        return "\n".join(words)


def _strings(value, key: str = ""):
    if isinstance(value, str):
        if key not in CHART_CODE_KEYS:
            yield value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _strings(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    return URL.sub(" ", EMAIL.sub(" ", parser.text()))


def raw_codes(text: str) -> set[str]:
    return set(CODE.findall(text))


def english_words(text: str, known: set[str]) -> set[str]:
    """Latin-letter words that are neither acronyms, names, nor words of the shop's data (`known`)."""
    return {
        word
        for word in WORD.findall(CODE.sub(" ", text))
        if not is_acronym(word) and word not in NAMES and word.lower() not in known
    }


def problems(html: str, known: set[str]) -> list[str]:
    """What is wrong with a page's text; `known` holds the words and names of the shop's own data
    (lowercase), which are shown as they were entered."""
    text = visible_text(html)
    found = [f"raw code {code!r}" for code in sorted(raw_codes(text) - known)]
    found += [f"English {word!r}" for word in sorted(english_words(text, known))]
    return found


# --- the shop the crawls read ---------------------------------------------------------------------

DEMO_CUSTOMERS = 150
# The first detail page each list leads to (a link of this shape on that list page).
DETAIL_LINKS = {
    "/customers/": r'href="(/customers/(?:\d+|merges)/)"',
    "/orders/": r'href="(/orders/\d+/)"',
    "/stores/": r'href="(/stores/\d+/)"',
    "/segments/": r'href="(/segments/\d+/)"',
    "/jobs/": r'href="(/jobs/\d+/)"',
    "/privacy/": r'href="(/privacy/(?:\d+|retention)/)"',
    "/settings/": r'href="(/(?:accounts|customers|stores)/[\w-]+/)"',
    "/reports/": r'href="(/reports/[\w-]+/)[?"]',
}


def load_small_demo() -> None:
    """The demo shop at 150 customers, loaded in Chinese (the install's language, in which ready-made
    segment names are stored) as `guanxi demo` does, with its metrics and segments computed."""
    from guanxi.analytics.refresh import refresh_metrics
    from guanxi.demo.loader import DEFAULT_SEED, REFERENCE_ANCHOR, load_demo
    from guanxi.demo.loyalty import load_loyalty_demo
    from guanxi.demo.service import load_service_demo
    from guanxi.segments.actions import refresh_all_segments
    from guanxi.segments.ready_made import install_ready_made_segments

    with translation.override("zh-hans"):
        load_demo(customers=DEMO_CUSTOMERS, anchor=REFERENCE_ANCHOR)
        load_loyalty_demo(REFERENCE_ANCHOR, seed=1)
        refresh_metrics(full=True, as_of=REFERENCE_ANCHOR)
        install_ready_made_segments()
        refresh_all_segments(now=REFERENCE_ANCHOR)
        load_service_demo(REFERENCE_ANCHOR, seed=DEFAULT_SEED)
        from guanxi.demo.marketing import install_demo_marketing

        install_demo_marketing()


def known_words() -> set[str]:
    """Words and names of the shop's own data (unit, store, product, tag, segment and field names,
    user names), lowercase: they are shown as they were entered, in whatever language that was."""
    from guanxi.accounts.models import BusinessUnit, User
    from guanxi.commerce.models import Product, Store
    from guanxi.customers.models import CustomFieldDefinition, Tag, TagGroup
    from guanxi.segments.models import Segment

    texts: list[str] = []
    for model, fields in (
        (BusinessUnit, ("name", "code")),
        (Store, ("name", "source")),
        (Product, ("name", "sku", "category")),
        (Tag, ("name", "description")),
        (TagGroup, ("name",)),
        (Segment, ("name", "description")),
        (CustomFieldDefinition, ("label", "key")),
        (User, ("username", "display_name")),
    ):
        for row in model.objects.values_list(*fields):
            texts.extend(str(value) for value in row)
    words = {word.lower() for text in texts for word in WORD.findall(text)}
    return words | {token.lower() for text in texts for token in text.split()}


def with_followed(pages: list[str], read: Callable[[str], str]) -> list[str]:
    """`pages`, then the first row each list leads to, every settings page, and the merge queue."""
    shown = list(pages)
    for page in pages:
        pattern = DETAIL_LINKS.get(page)
        if pattern is None:
            continue
        followed = [url for url in re.findall(pattern, read(page)) if url != page]
        shown += followed if page == "/settings/" else sorted(set(followed), key=followed.index)[:2]
    return list(dict.fromkeys(shown))
