"""Relevance rules shared by every engine: query parsing, stemming, typo budget, corrections.

One place decides what a query means, so the four engines give the same answers
(docs/search.md, "Relevance contract"):

- **Terms and phrases** (``parse_query``): unquoted words are *optional* terms — a document
  matching all of them ranks first, then those matching most of them; a query never returns
  nothing when some of its words match. Text in double quotes is a *required* exact phrase.
  A token joined by punctuation ("11.1", "A/RES/70/1", "SDG-11") is one term matched as a
  phrase of its parts, so an SDG target is not split into two loose numbers.
- **Stemming** (``stem``): Arabic and Russian words are reduced by Snowball's stemmers; the
  script says which language a word is, so no language guess is needed. Arabic first loses
  its article and the common attached prefixes (و، ب، ك، ف، لل), because Snowball strips the
  article only together with some suffixes ("الإسكان" → "اسك" but "إسكان" → "اسكان"); after
  that "التنمية", "تنمية", "للتنمية" and "والتنمية" all meet at one stem. Latin-script
  languages are not stemmed: English, French and Spanish cannot be told apart by script, and
  prefix matching already covers their common endings.
- **Typo budget** (``typo_budget``): one edit for words of 5+ letters, two for 9+; none for
  shorter words, numbers or CJK.
- **Did you mean** (``did_you_mean``): when the best hit does not contain a query word (nor its
  stem, nor a word it begins) but contains a word within the typo budget, that word is what
  the user meant; the corrected query is offered.
- **Weights** (``FIELD_WEIGHTS``, ``KIND_BOOSTS``): title over summary over body, and kinds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer
from rapidfuzz.distance import OSA

from portal.search.base import clean_query, is_cjk, normalize_text

MAX_TERMS = 10  # a 1,000-character query must not become a 200-clause statement
MIN_STEM = 2  # shorter stems match too much to be useful

# Field weights and kind boosts, in one place for every engine.
FIELD_WEIGHTS = {"title": 10.0, "body": 1.0}
# Kinds people look for when they type a topic rank above mentions in minutes or comments.
KIND_BOOSTS = {
    "agreement": 1.5,
    "organization": 1.0,
    "outcome": 1.2,
    "minutes": 1.0,
    "agenda": 1.0,
    "paragraph": 1.0,
    "comment": 0.8,
}

_TOKEN = re.compile(r"[^\s\"]+")
_WORD = re.compile(r"\w+")
_NON_WORD = re.compile(r"\W+")
_JOINERS = {"-", "'", "\u2019", "."}  # hyphen, apostrophes, full stop: parts of one word
_ARABIC = re.compile("[\u0600-\u06ff]")
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
_STEMMERS = {"ar": snowballstemmer.stemmer("arabic"), "ru": snowballstemmer.stemmer("russian")}


def script_language(word: str) -> str | None:
    if _ARABIC.search(word):
        return "ar"
    if _CYRILLIC.search(word):
        return "ru"
    return None


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The stem of a *normalised* Arabic or Russian word; other words are returned as is."""
    lang = script_language(word)
    if lang is None or not word.isalpha():
        return word
    base = word
    if lang == "ar":
        for prefix in _ARABIC_PREFIXES:
            if base.startswith(prefix) and len(base) - len(prefix) >= 3:
                base = base[len(prefix) :]
                break
        else:
            if base.startswith("و") and len(base) >= 5:  # conjunction "and"
                base = base[1:]
    stemmed = _STEMMERS[lang].stemWord(base)
    return stemmed if len(stemmed) >= MIN_STEM else base


def stems_of(text_norm: str, *, unchanged: bool = False) -> str:
    """The distinct stems of the Arabic and Russian words of normalised text, space-separated.

    Indexed next to the text, so a stemmed query word finds every form of it. With
    ``unchanged`` also the words that are their own stem (engines that match stems in a
    field of their own need them all).
    """
    seen: dict[str, None] = {}
    if text_norm.isascii():
        return ""
    for word in dict.fromkeys(_WORD.findall(text_norm)):
        stemmed = _indexed_stem(word)
        if stemmed is not None and (unchanged or stemmed != word):
            seen[stemmed] = None
    return " ".join(seen)


@lru_cache(maxsize=200_000)
def _indexed_stem(word: str) -> str | None:
    """``stem(word)`` for an Arabic or Russian word, None for any other (one cached lookup
    per word of every indexed document)."""
    return stem(word) if script_language(word) is not None else None


def typo_budget(word: str) -> int:
    """Edits forgiven: one from 5 letters, two from 9; never in numbers or CJK."""
    if len(word) < 5 or any(ch.isdigit() or is_cjk(ch) for ch in word):
        return 0
    return 2 if len(word) >= 9 else 1


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment: a swap of two neighbouring letters is one edit."""
    return OSA.distance(a, b)


@dataclass
class Term:
    """One optional query term: a word, a CJK run, or a punctuation-joined token."""

    text: str  # normalised
    parts: list[str]  # its words: one for a word, several for "11.1" → ["11", "1"]
    cjk: bool = False
    stem: str | None = None  # set when it differs from the word
    corrections: list[str] = field(default_factory=list)  # filled by the engine's vocabulary
    raw: str = ""  # the normalised token as typed, punctuation kept ("11.1")

    @property
    def is_word(self) -> bool:
        return not self.cjk and len(self.parts) == 1


@dataclass
class ParsedQuery:
    terms: list[Term]  # optional: more matched terms rank higher
    phrases: list[list[str]]  # required: each a list of normalised words, in order

    @property
    def empty(self) -> bool:
        return not self.terms and not self.phrases

    def words(self) -> list[str]:
        """Every normalised word of the query, terms and phrases (for highlighting)."""
        out: list[str] = []
        for term in self.terms:
            out.extend(term.parts)
            if term.stem:
                out.append(term.stem)
            out.extend(term.corrections)
        for phrase in self.phrases:
            out.extend(phrase)
        return list(dict.fromkeys(w for w in out if w))


def _cjk_split(token: str) -> list[tuple[str, bool]]:
    """A token as alternating (text, is_cjk) pieces."""
    pieces: list[tuple[str, bool]] = []
    for ch in token:
        flag = is_cjk(ch)
        if pieces and pieces[-1][1] == flag:
            pieces[-1] = (pieces[-1][0] + ch, flag)
        else:
            pieces.append((ch, flag))
    return pieces


def _terms_of_token(token: str) -> list[Term]:
    terms: list[Term] = []
    for piece, cjk in _cjk_split(token):
        if cjk:
            terms.append(Term(text=piece, parts=[piece], cjk=True))
            continue
        matches = [m for m in _WORD.finditer(piece) if m.group().strip("_")]
        parts = [m.group().strip("_") for m in matches]
        if not parts:
            continue
        if len(parts) == 1:
            word = parts[0]
            stemmed = stem(word)
            terms.append(Term(text=word, parts=parts, stem=stemmed if stemmed != word else None))
            continue
        raw = piece[matches[0].start() : matches[-1].end()]
        joiners = set(_NON_WORD.findall(raw))
        if any(ch.isdigit() for ch in raw) or (joiners <= _JOINERS and len(parts) <= 4):
            # "11.1", "A/RES/70/1", "proces-verbal", "l'eau": one term, a phrase of its parts.
            terms.append(Term(text=" ".join(parts), parts=parts, raw=raw))
        else:  # "water/sanitation", "title:water": separate words
            for word in parts:
                stemmed = stem(word)
                terms.append(
                    Term(text=word, parts=[word], stem=stemmed if stemmed != word else None)
                )
    return terms


def parse_query(text: str) -> ParsedQuery:
    """User text → optional terms and required phrases (normalised, deduplicated, bounded).

    Only letters and digits ever reach an engine: quotes become phrases, every other syntax
    character separates words.
    """
    norm = normalize_text(clean_query(text))
    phrases: list[list[str]] = []
    if norm.count('"') >= 2:
        pieces = norm.split('"')
        if len(pieces) % 2 == 0:  # an unbalanced last quote is just a character
            last = pieces.pop()
            pieces[-1] += " " + last
        outside = " ".join(pieces[0::2])
        for inside in pieces[1::2]:
            words = [w.strip("_") for w in _WORD.findall(inside)]
            words = [w for w in words if w]
            if words:
                phrases.append(words)
    else:
        outside = norm.replace('"', " ")
    terms: list[Term] = []
    seen: set[str] = set()
    for token in _TOKEN.findall(outside):
        for term in _terms_of_token(token):
            if term.text not in seen:
                seen.add(term.text)
                terms.append(term)
    unique_phrases: list[list[str]] = []
    for phrase in phrases:
        if phrase not in unique_phrases:
            unique_phrases.append(phrase)
    return ParsedQuery(terms=terms[:MAX_TERMS], phrases=unique_phrases[:MAX_TERMS])


def did_you_mean(query: ParsedQuery, best_text: str, typed: str) -> str | None:
    """The corrected query when the best hit matched a query word only through a typo.

    ``best_text`` is the best hit's title and body, ``typed`` the query as the user typed it.
    A word counts as matched when some word of the hit starts with it or shares its stem;
    otherwise the hit's closest word within the typo budget is taken as its correction. The
    suggestion is the typed query with each corrected word replaced by the hit's own spelling
    (accents and all, lower case).
    """
    surface: dict[str, str] = {}
    for raw_word in _WORD.findall(best_text or ""):
        surface.setdefault(normalize_text(raw_word), raw_word.lower())
    if not surface:
        return None
    words = set(surface)
    stems = {stem(w) for w in words if script_language(w)}
    corrections: dict[str, str] = {}
    for term in query.terms:
        word = term.text
        budget = typo_budget(word) if term.is_word else 0
        if (
            not budget
            or word in words
            or (term.stem and term.stem in stems)
            or any(w.startswith(word) for w in words)
        ):
            continue
        best = min(
            (
                (edit_distance(word, w), w)
                for w in words
                if abs(len(w) - len(word)) <= budget and w.isalpha()
            ),
            default=None,
        )
        if best is not None and best[0] <= budget:
            corrections[word] = surface[best[1]]
    if not corrections:
        return None

    def replace(match: re.Match) -> str:
        return corrections.get(normalize_text(match.group()), match.group())

    return _WORD.sub(replace, clean_query(typed))
