"""English and Dutch: gettext catalogs read with Babel.

English is the source language (the msgids); Dutch is `locales/nl/LC_MESSAGES/messages.po`,
read at startup and compiled in memory, so no compiled `.mo` file is kept in the repository
or needs a build step. `tests/web/test_i18n.py` checks that every message in the templates
and the page code has a Dutch translation.
"""

import gettext
from collections.abc import Iterable
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from services.web.settings import LANGUAGES, Language

LOCALES = Path(__file__).parent / "locales"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of a language (English: the messages as written)."""
    if language == "en":
        return gettext.NullTranslations()
    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def choose(asked: str | None, accept_language: str, default: Language) -> Language:
    """The language: the one chosen on the page, else the browser's first we speak."""
    if asked in LANGUAGES:
        return asked
    for tag in _preferred(accept_language):
        primary = tag.split("-", 1)[0].lower()
        if primary in LANGUAGES:
            return primary
    return default


def _preferred(header: str) -> Iterable[str]:
    weighted: list[tuple[float, str]] = []
    for part in header.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            weighted.append((quality, tag))
    return [tag for _, tag in sorted(weighted, key=lambda item: -item[0])]
