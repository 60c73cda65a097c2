"""Rich paragraph text: the plain text readers quote, plus *marks* over it.

A faithful import keeps bold, italic, links, note references and images without storing any
HTML: the paragraph's ``text`` stays the plain text (quoting, diffs, carry-over and search all
work on it) and ``Paragraph.extra`` holds a structured description over character offsets::

    "marks": [[start, end, kind, value, ...], ...]
        ranges:      "b" bold, "i" italic, "s" struck through, "sup", "sub",
                     "a" link (value: the target — http, https or mailto only)
        zero-width:  "note" (value: the note's label, e.g. "1"),
                     "img" (value: the stored image id; fifth element: its alt text)
    "notes": [{"label": "1", "kind": "footnote" | "endnote", "text": str, "marks": [...]}]
    "items": [[start, end], ...]   lettered sub-items "(a)" … of the paragraph (ranges of text)
    "cells": [[marks, ...], ...]   tables: the marks of each cell's text (parallel to "rows")

Rendering (``render_rich``) escapes every piece of text, re-checks every link target and emits
only a fixed set of tags, so hostile input (a ``javascript:`` link, ``<script>`` in a cell) is
shown as text or dropped, never run. Text nodes outside ``[data-skip]`` elements concatenate to
exactly the paragraph text, which lets the page's JavaScript turn a selection into offsets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from markupsafe import Markup, escape

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
RANGE_KINDS = ("a", "b", "i", "s", "sup", "sub")
INSERT_KINDS = ("note", "img")
_TAGS = {"b": "strong", "i": "em", "s": "s", "sup": "sup", "sub": "sub"}
_OPEN = {k: Markup("<%s>") % v for k, v in _TAGS.items()}
_CLOSE = {k: Markup("</%s>") % v for k, v in _TAGS.items()} | {
    "a": Markup("</a>"),
    "mark": Markup("</mark>"),
}


def safe_href(url: str | None) -> str | None:
    """The link target if its scheme is http, https or mailto (and it is well formed)."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if any(ch in url for ch in "\x00\r\n\t") or len(url) > 2000:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in SAFE_SCHEMES:
        return None
    if scheme in ("http", "https") and not parts.netloc:
        return None
    if scheme == "mailto" and not parts.path:
        return None
    return url


def is_cjk(ch: str) -> bool:
    return "\u2e80" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef"


# --- Building rich text while parsing ----------------------------------------------------------


@dataclass
class Rich:
    """Plain text and its marks (see the module docstring)."""

    text: str = ""
    marks: list[list] = field(default_factory=list)

    def strip_prefix(self, n: int) -> Rich:
        """The text without its first ``n`` characters (e.g. a typed "12. "), marks moved."""
        marks = []
        for m in self.marks:
            start, end = max(m[0] - n, 0), max(m[1] - n, 0)
            if m[2] in INSERT_KINDS or end > start:
                marks.append([start, end, *m[2:]])
        return Rich(self.text[n:], marks)

    def lstrip(self) -> Rich:
        return self.strip_prefix(len(self.text) - len(self.text.lstrip()))

    def extend(self, other: Rich, separator: str = "") -> tuple[int, int]:
        """Append ``other`` (after ``separator``); returns the range it now occupies."""
        offset = len(self.text) + len(separator)
        self.text += separator + other.text
        self.marks.extend([m[0] + offset, m[1] + offset, *m[2:]] for m in other.marks)
        return offset, len(self.text)


class RichBuilder:
    """Collects runs of text with their formatting, then normalises line breaks like the plain
    importer always did: each line stripped, lines joined by a space except between two CJK
    characters (Chinese has no spaces)."""

    def __init__(self) -> None:
        self._chars: list[tuple[str | None, tuple]] = []

    def add(self, text: str, fmt: Iterable[tuple] = ()) -> None:
        key = tuple(sorted(set(fmt)))
        for ch in text:
            if ch == "\t":
                ch = " "
            elif ch in "\r\v\f\u2028\u2029":
                ch = "\n"
            self._chars.append((ch, key))

    def insert(self, kind: str, value, *rest) -> None:
        self._chars.append((None, (kind, value, *rest)))

    def has_content(self) -> bool:
        return any(ch is None or not ch.isspace() for ch, _fmt in self._chars)

    def build(self) -> Rich:
        lines: list[list[tuple[str | None, tuple]]] = [[]]
        for item in self._chars:
            if item[0] == "\n":
                lines.append([])
            else:
                lines[-1].append(item)
        out: list[tuple[str | None, tuple]] = []
        for line in lines:
            while line and line[0][0] is not None and line[0][0].isspace():
                line.pop(0)
            while line and line[-1][0] is not None and line[-1][0].isspace():
                line.pop()
            if not line:
                continue
            last = next((ch for ch, _f in reversed(out) if ch is not None), None)
            first = next((ch for ch, _f in line if ch is not None), None)
            if last is not None and first is not None and not (is_cjk(last) and is_cjk(first)):
                out.append((" ", ()))
            out.extend(line)
        text_parts: list[str] = []
        marks: list[list] = []
        open_at: dict[tuple, int] = {}
        pos = 0
        for ch, fmt in out:
            if ch is None:
                marks.append([pos, pos, *fmt])
                continue
            current = set(fmt)
            for key in [k for k in open_at if k not in current]:
                start = open_at.pop(key)
                marks.append([start, pos, *key])
            for key in fmt:
                open_at.setdefault(key, pos)
            text_parts.append(ch)
            pos += 1
        for key, start in open_at.items():
            marks.append([start, pos, *key])
        marks.sort(key=lambda m: (m[0], -m[1]))
        return Rich("".join(text_parts), marks)


# --- Rendering ----------------------------------------------------------------------------------


@dataclass
class Highlight:
    """A passage to mark (commented passages): ``label`` is read out and shown on hover."""

    start: int
    end: int
    label: str = ""
    css: str = "commented"
    count: int = 0


def _valid_marks(marks, length: int) -> list[list]:
    good = []
    for m in marks or ():
        if not isinstance(m, list | tuple) or len(m) < 3:
            continue
        start, end, kind = m[0], m[1], m[2]
        if not (isinstance(start, int) and isinstance(end, int)) or not 0 <= start <= end <= length:
            continue
        if kind in RANGE_KINDS and end > start or kind in INSERT_KINDS and start == end:
            good.append(list(m))
    return good


def render_rich(
    text: str,
    marks=None,
    *,
    lo: int = 0,
    hi: int | None = None,
    highlights: Iterable[Highlight] = (),
    note_id: Callable[[str], str] | None = None,
    image_url: Callable[[object], str | None] | None = None,
) -> Markup:
    """HTML for ``text[lo:hi]`` with its marks; everything escaped, links re-checked."""
    text = text or ""
    hi = len(text) if hi is None else hi
    marks = _valid_marks(marks, len(text))
    ranges: list[tuple[int, int, int, str, object]] = []  # start, end, order, kind, value
    inserts: dict[int, list[list]] = {}
    for order, m in enumerate(marks):
        start, end, kind = m[0], m[1], m[2]
        if kind in INSERT_KINDS:
            if lo <= start < hi or (start == hi and hi == len(text)):
                inserts.setdefault(start, []).append(m)
            continue
        start, end = max(start, lo), min(end, hi)
        if end <= start:
            continue
        if kind == "a":
            href = safe_href(m[3] if len(m) > 3 else None)
            if href is None:
                continue
            ranges.append((start, end, order, "a", href))
        else:
            ranges.append((start, end, order, kind, None))
    for k, h in enumerate(highlights):
        start, end = max(h.start, lo), min(h.end, hi)
        if end > start:
            ranges.append((start, end, len(marks) + k, "mark", h))

    def open_tag(r) -> Markup:
        kind, value = r[3], r[4]
        if kind == "a":
            return Markup('<a href="{}" rel="nofollow noopener">').format(value)
        if kind == "mark":
            attrs = Markup(' class="{}" data-count="{}"').format(value.css, value.count)
            if value.label:
                attrs += Markup(' title="{}"').format(value.label)
            return Markup("<mark{}>").format(attrs)
        return _OPEN[kind]

    def close_tag(r, pos: int) -> Markup:
        if r[3] == "mark" and r[1] == pos and r[4].count:
            # The count, at the passage's real end only (not where it is split and reopened).
            return Markup(
                '<span class="passage-count" data-skip><span aria-hidden="true">{}</span>'
                '<span class="visually-hidden"> ({})</span></span></mark>'
            ).format(r[4].count, r[4].label or r[4].count)
        return _CLOSE[r[3]]

    def render_insert(m) -> Markup:
        if m[2] == "note":
            label = str(m[3])
            # Inside a link the reference is not a link itself (links do not nest).
            in_link = any(r[3] == "a" for r in stack)
            target = note_id(label) if note_id and not in_link else None
            inner = (
                Markup('<a href="#{}" class="note-ref">{}</a>').format(target, label)
                if target
                else escape(label)
            )
            return Markup('<sup data-skip><span class="visually-hidden">{}</span>{}</sup>').format(
                _note_word(), inner
            )
        url = image_url(m[3]) if image_url else None
        alt = str(m[4]) if len(m) > 4 and m[4] is not None else ""
        if not url:
            return Markup('<span class="image-missing" data-skip>[{}]</span>').format(
                alt or "image"
            )
        return Markup(
            '<img class="review-image" src="{}" alt="{}" loading="lazy" data-skip>'
        ).format(url, alt)

    bounds = {lo, hi}
    for r in ranges:
        bounds.update((r[0], r[1]))
    bounds.update(p for p in inserts if lo <= p <= hi)
    points = sorted(b for b in bounds if lo <= b <= hi)
    out = Markup("")
    stack: list[tuple] = []
    for index, pos in enumerate(points):
        ending = [r for r in stack if r[1] <= pos]
        if ending:
            # Close down to the deepest ending range, then reopen the survivors.
            depth = min(stack.index(r) for r in ending)
            reopen = [r for r in stack[depth:] if r[1] > pos]
            for r in reversed(stack[depth:]):
                out += close_tag(r, pos)
            del stack[depth:]
        else:
            reopen = []
        for m in inserts.get(pos, []):
            out += render_insert(m)
        if pos == hi:
            break
        starting = sorted((r for r in ranges if r[0] == pos), key=lambda r: (-r[1], r[2]))
        for r in reopen + starting:
            out += open_tag(r)
            stack.append(r)
        out += escape(text[pos : points[index + 1]])
    for r in reversed(stack):
        out += close_tag(r, hi)
    return out


def _note_word() -> str:
    from flask_babel import gettext as _

    return _("Note")
