"""The zh-Hans and en catalogues are complete: every translatable string in the code has a
translation, and the compiled .mo files match the .po sources (`make messages` refreshes both)."""

import gettext
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "guanxi"
LOCALES = {"zh_Hans": "zh-hans", "en": "en"}


def parse_po(path: Path) -> dict[str, tuple[str, bool]]:
    """msgid → (msgstr, fuzzy) for a .po file; plural forms report their first msgstr."""
    entries: dict[str, tuple[str, bool]] = {}
    fuzzy = False
    field = ""
    current: dict[str, str] = {}

    def flush():
        if current.get("msgid"):
            key = (
                current.get("msgctxt", "") + "\x04" + current["msgid"]
                if "msgctxt" in current
                else current["msgid"]
            )
            entries[key] = (current.get("msgstr", current.get("msgstr[0]", "")), fuzzy)

    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            flush()
            current, fuzzy, field = {}, False, ""
        elif line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            current[field] += _unquote(line)
        else:
            field, _, rest = line.partition(" ")
            current[field] = _unquote(rest)
    return entries


def _unquote(text: str) -> str:
    return text.strip()[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict[str, tuple[str, bool]]:
    """Run makemessages on a copy of the package, so the working tree is never touched."""
    if shutil.which("xgettext") is None:
        pytest.fail("GNU gettext is needed for the catalogue check (apt-get install gettext)")
    copy = tmp_path_factory.mktemp("extract") / "guanxi"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("locale", "tests", "__pycache__", "vendor"))
    (copy / "locale").mkdir()
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "zh_Hans", "--no-location", "--no-wrap"],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    return parse_po(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")


@pytest.mark.parametrize("locale", ["zh_Hans"])
def test_every_string_in_the_code_is_translated(extracted, locale):
    committed = parse_po(PACKAGE / "locale" / locale / "LC_MESSAGES" / "django.po")
    missing = sorted(msgid for msgid in extracted if msgid not in committed)
    untranslated = sorted(
        msgid for msgid, (msgstr, fuzzy) in committed.items() if msgid in extracted and (not msgstr or fuzzy)
    )
    assert missing == [], (
        f"{len(missing)} strings are not in the {locale} catalogue (run `make messages`): {missing[:20]}"
    )
    assert untranslated == [], (
        f"{len(untranslated)} strings have no {locale} translation: {untranslated[:20]}"
    )


@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_compiled_catalogue_matches_its_source(locale):
    directory = PACKAGE / "locale" / locale / "LC_MESSAGES"
    with (directory / "django.mo").open("rb") as compiled:
        translations = gettext.GNUTranslations(compiled)
    for msgid, (msgstr, fuzzy) in parse_po(directory / "django.po").items():
        if msgstr and not fuzzy and "\x04" not in msgid:
            assert translations.gettext(msgid) == msgstr, (
                f"{locale} .mo is stale (run `make messages`): {msgid!r}"
            )
