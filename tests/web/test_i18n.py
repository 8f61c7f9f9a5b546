"""English and Dutch: every message has a Dutch translation, and both languages render."""

import pytest

from services.web import catalog
from services.web.i18n import choose, translations


def test_every_message_of_the_pages_has_a_dutch_translation() -> None:
    messages = catalog.extract()
    assert len(messages) > 50  # the extraction finds the templates and the page code
    dutch = catalog.dutch()
    missing = sorted(message for message in messages if not dutch.get(message))
    assert missing == [], f"run python -m services.web.catalog and translate: {missing}"


def test_the_catalog_holds_no_stale_messages() -> None:
    stale = sorted(set(catalog.dutch()) - catalog.extract())
    assert stale == [], f"run python -m services.web.catalog: {stale}"


def test_dutch_translates_and_english_is_the_source() -> None:
    assert translations("nl").gettext("Sign in") == "Inloggen"
    assert translations("en").gettext("Sign in") == "Sign in"


@pytest.mark.parametrize(
    ("asked", "header", "expected"),
    [
        ("nl", "en-GB,en;q=0.9", "nl"),
        (None, "nl-NL,nl;q=0.9,en;q=0.8", "nl"),
        (None, "de-DE,de;q=0.9,en;q=0.5", "en"),
        (None, "fr;q=0.9,nl;q=0.95", "nl"),
        (None, "", "en"),
        ("xx", "q=;;,,", "en"),
    ],
)
def test_language_choice(asked: str | None, header: str, expected: str) -> None:
    assert choose(asked, header, "en") == expected
