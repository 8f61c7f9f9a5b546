"""Party identifiers, iSHARE-style: `EU.EORI.` + an EORI number (`EU.EORI.NL123456789`).

An EORI number is an ISO 3166-1 alpha-2 country code followed by at most 15 characters
(Regulation (EU) 2015/2447, Annex 12-01: an2 + an..15). Some countries fix the national part
more tightly; the Netherlands uses exactly 9 digits. The check is strict on purpose: the
identifier is a primary key and appears in signed links, so `eu.eori.nl…`, spaces or Unicode
look-alike digits are refused rather than normalised, and one party has one spelling.

Written by hand: no maintained library validates EORI numbers, and the rule is a few lines.
"""

import re

PREFIX = "EU.EORI."
MAX_NATIONAL_LENGTH = 15

# ISO 3166-1 alpha-2, officially assigned codes (249), plus XI: the EU customs code for
# Northern Ireland under the Windsor Framework, which EORI numbers carry although ISO does
# not assign it. Written out because the standard library has no country list.
_COUNTRY_CODES_TEXT = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
    BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET
    FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
    HK HM HN HR HT HU
    ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP
    KE KG KH KI KM KN KP KR KW KY KZ
    LA LB LC LI LK LR LS LT LU LV LY
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
    NA NC NE NF NG NI NL NO NP NR NU NZ
    OM
    PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA
    RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
    TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
    UA UG UM US UY UZ
    VA VC VE VG VI VN VU
    WF WS
    YE YT
    ZA ZM ZW
    XI
"""
COUNTRY_CODES = frozenset(_COUNTRY_CODES_TEXT.split())

# ASCII only: `\d` and str.isalnum() would also accept other scripts' digits and letters.
_NATIONAL = re.compile(r"[A-Z0-9]{1,15}")
_NATIONAL_BY_COUNTRY: dict[str, re.Pattern[str]] = {
    "NL": re.compile(r"[0-9]{9}"),
}


class InvalidEori(ValueError):
    """The value is not a valid `EU.EORI.<country><number>` party identifier."""


def parse_eori(value: str) -> str:
    """The party identifier itself if it is valid; raises InvalidEori saying why otherwise."""
    if not value.startswith(PREFIX):
        raise InvalidEori(f"a party id starts with {PREFIX!r}")
    number = value[len(PREFIX) :]
    country, national = number[:2], number[2:]
    if country not in COUNTRY_CODES:
        raise InvalidEori("the EORI number must start with an ISO 3166-1 alpha-2 country code")
    pattern = _NATIONAL_BY_COUNTRY.get(country, _NATIONAL)
    if pattern.fullmatch(national) is None:
        if country in _NATIONAL_BY_COUNTRY:
            raise InvalidEori(f"an EORI number of {country} has the form {pattern.pattern}")
        raise InvalidEori(
            f"after the country code come 1 to {MAX_NATIONAL_LENGTH} characters A-Z or 0-9"
        )
    return value


def is_valid_eori(value: str) -> bool:
    """Whether the value is a valid party identifier."""
    try:
        parse_eori(value)
    except InvalidEori:
        return False
    return True
