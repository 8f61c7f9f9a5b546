"""The messages of the pages, and the Dutch catalog kept in step with them.

`extract()` finds every message marked in the templates (`_()`, `gettext`) and in the page
code (`_()`); `tests/web/test_i18n.py` fails when one has no Dutch translation, and
`python -m services.web.catalog` rewrites `messages.po` with every current message (keeping
the translations it has, leaving new ones empty for a translator, dropping stale ones).
"""

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

WEB = Path(__file__).parent
DUTCH = WEB / "locales" / "nl" / "LC_MESSAGES" / "messages.po"

_METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
_OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def extract() -> set[str]:
    """Every message the pages can show in English."""
    found: set[str] = set()
    for _, _, message, _, _ in extract_from_dir(
        str(WEB), method_map=_METHODS, options_map=_OPTIONS, keywords={"_": None, "gettext": None}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _read() -> Catalog:
    with DUTCH.open("rb") as po:
        return read_po(po, locale="nl")


def dutch() -> dict[str, str]:
    """The Dutch catalog: English message → Dutch (empty where not translated yet)."""
    return {str(m.id): str(m.string or "") for m in _read() if m.id}


def update() -> None:
    """Rewrite the Dutch catalog for the current messages (its dates kept: no churn)."""
    known = dutch() if DUTCH.exists() else {}
    catalog = Catalog(locale="nl", project="Ketenpas web", charset="utf-8", fuzzy=False)
    if DUTCH.exists():
        previous = _read()
        catalog.creation_date = previous.creation_date
        catalog.revision_date = previous.revision_date
    for message in sorted(extract()):
        catalog.add(message, known.get(message, ""))
    DUTCH.parent.mkdir(parents=True, exist_ok=True)
    with DUTCH.open("wb") as po:
        write_po(po, catalog, width=100, omit_header=False, sort_output=True)


if __name__ == "__main__":
    update()
