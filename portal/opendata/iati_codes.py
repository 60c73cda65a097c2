"""Every mapping from the portal's vocabularies to IATI 2.03 codes, in one place.

tests/test_iati.py checks each code here against the IATI codelists vendored under
tests/data/iati/codelists/, so a typo or a withdrawn code fails the build, not a publisher's
validation report.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from portal.agreements.models import IATI_ACTIVITY_STATUS

IATI_VERSION = "2.03"

# OrganisationRole: 1 Funding, 2 Accountable, 3 Extending, 4 Implementing. Our party roles are
# named after them (DESIGN §3), so the mapping is one-to-one.
ORGANISATION_ROLE: dict[str, str] = {
    "funding": "1",
    "accountable": "2",
    "extending": "3",
    "implementing": "4",
}

# ActivityStatus (1 Pipeline/identification, 2 Implementation, 3 Finalisation, 4 Closed,
# 5 Cancelled). The agreement model owns it because the agreement page shows the code too.
ACTIVITY_STATUS: dict[str, str] = dict(IATI_ACTIVITY_STATUS)

# ActivityDateType.
PLANNED_START, ACTUAL_START, PLANNED_END, ACTUAL_END = "1", "2", "3", "4"
# Statuses in which the agreement has started, and those in which it has ended.
STARTED_STATUSES = frozenset({"active", "closed", "terminated"})
ENDED_STATUSES = frozenset({"closed", "terminated"})

# SectorVocabulary 8: UN Sustainable Development Goal targets ("11.1", "11.a").
SECTOR_VOCABULARY_SDG_TARGET = "8"
# RegionVocabulary 2: UN Statistics Division M49 codes (ours are zero-padded: "002", "419").
REGION_VOCABULARY_M49 = "2"
# DescriptionType 1: General.
DESCRIPTION_GENERAL = "1"
# OtherIdentifierType A1: the reporting organisation's internal activity identifier.
OTHER_IDENTIFIER_INTERNAL = "A1"

# TransactionType: the agreement value is a commitment. When a party other than the publisher
# funds the agreement the money comes in (11 Incoming Commitment, the funder as provider);
# otherwise the publisher commits it to its partners (2 Outgoing Commitment).
TRANSACTION_INCOMING_COMMITMENT = "11"
TRANSACTION_OUTGOING_COMMITMENT = "2"

# DocumentCategory of an agreement's attached documents, by agreement type: A09 Memorandum of
# understanding, A11 Contract (every other signed instrument).
DOCUMENT_CATEGORY: dict[str, str] = {
    "mou": "A09",
    "letter-of-intent": "A09",
    "cooperation-agreement": "A11",
    "contribution-agreement": "A11",
    "project-cooperation-agreement": "A11",
    "grant": "A11",
    "other": "A11",
}
# DocumentCategory B16 "Organisation web page", for a partner's website in the organisation file.
ORGANISATION_WEB_PAGE = "B16"
WEB_PAGE_FORMAT = "text/html"  # FileFormat (IANA media type)

# Languages the portal's interface speaks, as IATI Language codes (ISO 639-1).
LANGUAGES = ("ar", "en", "es", "fr", "ru", "zh")


def activity_dates(
    status: str,
    start_on: date | None,
    end_on: date | None,
    signed_on: date | None,
    created_on: date,
    today: date,
) -> list[tuple[str, date]]:
    """(ActivityDateType, date) pairs for an agreement.

    The agreement's start and end are planned dates; they are also the actual ones once the
    status says the agreement started (or ended) and the date is not in the future, because IATI
    forbids actual dates after the file's date. IATI needs at least one date: an agreement
    without a start date is planned to start on the day it was signed, or, not signed yet, on
    the day its record was created.
    """
    dates: list[tuple[str, date]] = []
    if start_on is None and signed_on is None and end_on is None:
        return [(PLANNED_START, created_on)]
    start = start_on or signed_on
    if start is not None:
        dates.append((PLANNED_START, start))
        if status in STARTED_STATUSES and start <= today:
            dates.append((ACTUAL_START, start))
    if end_on is not None:
        dates.append((PLANNED_END, end_on))
        if status in ENDED_STATUSES and end_on <= today:
            dates.append((ACTUAL_END, end_on))
    return dates


def split_percentages(count: int) -> list[str]:
    """``count`` percentages with two decimals that sum to exactly 100 (IATI requires it)."""
    if count <= 0:
        return []
    cents = 10000 // count
    shares = [cents] * count
    shares[0] += 10000 - cents * count
    return [f"{share // 100}.{share % 100:02d}" for share in shares]


# Letters of the scripts that name a language unambiguously among the six UN languages.
_SCRIPTS = (
    ("ar", re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")),
    ("zh", re.compile(r"[\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF]")),
    ("ru", re.compile(r"[\u0400-\u04FF]")),
)
_LETTER = re.compile(r"[^\W\d_]")


@lru_cache(maxsize=4096)
def text_language(text: str, default: str) -> str:
    """The language of a catalogue text, for its IATI narrative's ``xml:lang``.

    Records do not store their language, so it is read from the script: more Arabic, Chinese
    or Cyrillic letters than Latin ones name that language; anything else (Latin script:
    English, French, Spanish …) is the portal's configured content language.
    """
    counts = {lang: len(script.findall(text)) for lang, script in _SCRIPTS}
    counts["zh"] *= 2  # a Chinese character is a word, not a letter
    others = len(_LETTER.findall(text)) - sum(len(s.findall(text)) for _l, s in _SCRIPTS)
    best = max(counts, key=lambda lang: counts[lang])
    return best if counts[best] > others else default
