"""No English left in the interface (issue 13): every page, as each role, in ar, zh, fr, ru, es.

The demo data set is loaded once; each role crawls the portal (one page per kind of address:
``/partners/12`` and ``/partners/40`` are the same page) and reads every page in each language.
What counts as interface text: text nodes and the labels a screen reader reads (aria-label,
title, placeholder, alt), outside user-written content — elements that carry their own
``lang``, ``dir="auto"`` or are ``<bdi>``. A page fails when its interface text

- is, whole, an English message of the catalogue (``Draft``, ``Comment on this paragraph``…) or
  one of the internal words the portal stores (``in-progress``, ``minutes``), where the
  language's catalogue has a different translation;
- (ar, zh, ru: scripts other than English's) contains an English word of the catalogue's
  vocabulary that is neither a word of the database's content (names of people, organisations,
  places, titles) nor used by that language's own translations (IATI, SDG, UTC);
- contains an English month or weekday name (dates must be formatted per locale).
"""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import String, Text, select

from portal.demo.seed import DEMO_PASSWORD
from portal.extensions import db
from tests.conftest import login
from tests.demo_data import clear_demo, load_demo

LANGS = ("ar", "zh", "fr", "ru", "es")
NON_LATIN = {"ar", "zh", "ru"}
ROLES = {
    None: ["/", "/partners/", "/agreements/", "/regions/", "/consultations/", "/search/?q=water"],
    "partner@example.org": ["/reviews/", "/account/", "/consultations/"],
    "staff@example.org": ["/staff/", "/staff/audit", "/consultations/dashboard", "/reviews/"],
    "admin@example.org": ["/account/users", "/staff/import/", "/staff/proposals"],
}
LIMIT_PER_ROLE = 45
SKIP_LINK = re.compile(
    r"logout|/lang/|lang=|unsubscribe|download|export|\.ics|\.csv|\.xlsx|\.docx|/feed/|matrix"
    r"|/documents/\d+/file|/r/"
)
TRANSLATIONS = Path(__file__).resolve().parent.parent / "portal" / "translations"
ENGLISH_DATES = re.compile(
    r"\b(January|February|March|April|June|July|August|September|October|November|December"
    r"|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
)
ENGLISH_DATE_ABBR = re.compile(
    r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b"
)
# Words that are the same in every language here: acronyms, codes and product names.
UNIVERSAL = {"iati", "sdg", "sdgs", "utc", "csv", "xlsx", "docx", "pdf", "ics", "api", "url"}
# Internal words the portal stores and must never show raw.
INTERNAL_WORDS = {
    "in-progress",
    "minutes",
    "published",
    "agenda",
    "draft",
    "circulated",
    "approved",
    "scheduled",
    "held",
    "cancelled",
    "accepted",
    "declined",
    "pending",
    "active",
    "closed",
    "open",
    "outcome",
    "paragraph",
    "comment",
    "organization",
    "agreement",
}
WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")


# One data set for the module (tests/conftest.py empties the tables after each test).
@pytest.fixture(autouse=True)
def _app_context(app):
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()


@pytest.fixture(scope="module")
def demo(app):
    with app.app_context():
        load_demo(app)
        content_words = _database_words()
        db.session.remove()
    yield content_words
    clear_demo(app)


def _database_words() -> set[str]:
    """Every word of every text column: names, titles, descriptions — content, not interface."""
    words: set[str] = set()
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, String | Text) and not column.name.endswith("_hash"):
                for (value,) in db.session.execute(select(column).distinct()):
                    if isinstance(value, str):
                        words.update(w.lower() for w in WORD.findall(value))
    return words


def _catalogue(lang: str):
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh)


@pytest.fixture(scope="module")
def vocab():
    """English messages, English words, and each language's own words and translations."""
    messages: dict[str, dict[str, str]] = {}  # lower-cased English text → {lang: translation}
    english_words: set[str] = set()
    own_words: dict[str, set[str]] = {}
    for lang in LANGS:
        own = own_words.setdefault(lang, set())
        for m in _catalogue(lang):
            if not m.id:
                continue
            ids = [m.id] if isinstance(m.id, str) else list(m.id)
            strings = [m.string] if isinstance(m.string, str) else list(m.string)
            for text in strings:
                own.update(w.lower() for w in WORD.findall(text or ""))
            for english in ids:
                plain = re.sub(r"%\(\w+\)[sd]|\{\w+\}|<[^>]+>", " ", english)
                english_words.update(w.lower() for w in WORD.findall(plain))
                if "%(" not in english and WORD.search(english):
                    messages.setdefault(english.strip().lower(), {})[lang] = strings[0] or ""
    return messages, english_words, own_words


class _Text(HTMLParser):
    """Interface text of a page: text nodes and accessible labels outside user content."""

    SKIP_TAGS = {"script", "style", "bdi", "code", "pre", "kbd", "samp", "textarea", "svg"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # per open element: is it (or an ancestor) user content?
        self.texts: list[str] = []

    def _content(self) -> bool:
        return bool(self.stack) and self.stack[-1]

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        content = self._content() or tag in self.SKIP_TAGS
        content = content or (tag != "html" and ("lang" in a or a.get("dir") == "auto"))
        content = content or a.get("translate") == "no"
        if not content:
            for name in ("aria-label", "title", "placeholder", "alt"):
                if a.get(name):
                    self.texts.append(a[name])
            if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
                self.texts.append(a["value"])
        if tag not in self.VOID:
            self.stack.append(content)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self._content() and data.strip():
            self.texts.append(data)


def interface_texts(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return [" ".join(t.split()) for t in parser.texts]


def _pattern(url: str) -> str:
    path = url.split("?")[0]
    return re.sub(r"/\d+", "/N", path)


def crawl_urls(client, start: list[str], limit: int) -> list[str]:
    """One address per kind of page reachable from ``start`` (breadth-first)."""
    seen: set[str] = set()
    found: list[str] = []
    queue = deque(start)
    while queue and len(found) < limit:
        url = queue.popleft()
        pattern = _pattern(url)
        if pattern in seen:
            continue
        seen.add(pattern)
        resp = client.get(url)
        if resp.status_code != 200 or "text/html" not in resp.content_type:
            continue
        found.append(url)
        for href in re.findall(r'href="(/[^"#]*)"', resp.get_data(as_text=True)):
            href = href.replace("&amp;", "&")
            if not SKIP_LINK.search(href) and not href.startswith("/static/"):
                queue.append(href)
    return found


def english_left(texts: list[str], lang: str, vocab, content_words: set[str]) -> list[str]:
    messages, english_words, own_words = vocab
    own = own_words[lang]
    found = []
    for text in texts:
        key = text.strip(" :·—–-()").lower()
        translations = messages.get(key)
        if translations is not None and translations.get(lang, "").strip().lower() != key:
            found.append(f"untranslated message “{text}”")
            continue
        if key in INTERNAL_WORDS and key not in own:
            found.append(f"internal word “{text}”")
            continue
        if ENGLISH_DATES.search(text) or (lang in NON_LATIN and ENGLISH_DATE_ABBR.search(text)):
            found.append(f"English date “{text}”")
            continue
        if lang in NON_LATIN:
            for word in WORD.findall(text):
                w = word.lower()
                if (
                    w in english_words
                    and w not in content_words
                    and w not in own
                    and w not in UNIVERSAL
                ):
                    found.append(f"English word “{word}” in “{text[:80]}”")
                    break
    return found


def test_the_text_reader_skips_user_content_and_reads_labels():
    html = (
        '<html lang="ar"><body><p>نص <bdi>Catalytic Action</bdi></p>'
        '<h1 lang="en" dir="auto">Agreement</h1><button aria-label="Close">x</button>'
        "<script>var Draft = 1;</script><span>Draft</span></body></html>"
    )
    assert interface_texts(html) == ["نص", "Close", "x", "Draft"]


def test_the_check_finds_english_messages_words_and_dates(vocab):
    found = english_left(
        ["Comment on this paragraph", "in-progress", "الخميس Thu 14 Jan 2027", "عرض Withdraw"],
        "ar",
        vocab,
        content_words=set(),
    )
    assert len(found) == 4, found


@pytest.mark.parametrize("email", list(ROLES), ids=lambda e: (e or "anonymous").split("@")[0])
def test_no_english_left_in_the_interface(email, app, demo, vocab):
    client = app.test_client()
    if email:
        assert login(client, email, DEMO_PASSWORD).status_code in (302, 303)
    urls = crawl_urls(client, ROLES[email], LIMIT_PER_ROLE)
    assert len(urls) >= 8, urls
    problems: list[str] = []
    for lang in LANGS:
        client.get(f"/lang/{lang}")
        for url in urls:
            resp = client.get(url)
            assert resp.status_code == 200, (lang, url, resp.status_code)
            # What the reader typed (?q=water) is theirs, not the interface's: the search
            # page repeats it in its title.
            typed = {
                w.lower()
                for values in parse_qs(urlsplit(url).query).values()
                for value in values
                for w in WORD.findall(value)
            }
            for problem in english_left(
                interface_texts(resp.get_data(as_text=True)), lang, vocab, demo | typed
            ):
                problems.append(f"[{lang}] {url}: {problem}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(sorted(set(problems)))


SNIPPET = re.compile(r'<p class="snippet"[^>]*>(.*?)</p>', re.S)
HIT_LABELS = re.compile(r'<p class="hit-labels">(.*?)</p>', re.S)


@pytest.mark.parametrize("lang", ["ar", "zh"])
def test_search_results_speak_the_readers_language(lang, app, demo, vocab):
    """Search results in Arabic and Chinese: the labels under each hit (type, country,
    stakeholder group) are translated, and no snippet carries English vocabulary words — the
    snippet is the document's own text (the demo's content words are allowed)."""
    client = app.test_client()
    assert login(client, "staff@example.org", DEMO_PASSWORD).status_code in (302, 303)
    client.get(f"/lang/{lang}")
    problems: list[str] = []
    labels_seen = 0
    for query in ("water", "housing", "partnership", "Kenya", "Catalytic"):
        html = client.get("/search/", query_string={"q": query}).get_data(as_text=True)
        typed = {w.lower() for w in WORD.findall(query)}
        for block in HIT_LABELS.findall(html):
            labels = [" ".join(t.split()) for t in re.findall(r"<span>(.*?)</span>", block)]
            labels_seen += len(labels)
            for problem in english_left(labels, lang, vocab, set()):
                problems.append(f"[{lang}] q={query} label: {problem}")
        for snippet in SNIPPET.findall(html):
            plain = " ".join(re.sub(r"<[^>]+>", " ", snippet).split())
            for problem in english_left([plain], lang, vocab, demo | typed):
                problems.append(f"[{lang}] q={query} snippet: {problem}")
    # A floor so the check cannot pass on no results. Since PostgreSQL search matches word
    # prefixes only (issue 17), it finds fewer demo hits for these five words (6 labels against
    # 10+ on the other engines): the translation check above is what this test is about.
    assert labels_seen >= 5, labels_seen
    assert not problems, "\n".join(sorted(set(problems)))
