"""Differences between two versions of a draft, paragraph by paragraph and word by word.

Paragraphs are paired by ``previous_id`` (set when a version continues another), then by the
same anchor, then by identical text, then by similar text (difflib ratio ≥ 0.6). Unpaired old
paragraphs were deleted, unpaired new ones inserted; pairs out of their old order were moved.
Inside a changed pair the words are compared (Chinese character by character, since it has no
spaces). Everything is escaped before the <ins>/<del> marks go in.
"""

from __future__ import annotations

import bisect
import difflib
import re
from dataclasses import dataclass

from markupsafe import Markup, escape

from portal.reviews.models import DocumentVersion, Paragraph
from portal.reviews.rendering import load_version

SIMILAR = 0.6
_TOKEN = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]|\w+|\s+|[^\w\s]", re.U)


@dataclass
class DiffEntry:
    op: str  # "same" | "changed" | "inserted" | "deleted" | "moved"
    old: Paragraph | None
    new: Paragraph | None
    html: Markup  # the text with changes marked

    @property
    def changed_text(self) -> bool:
        return self.old is not None and self.new is not None and self.old.text != self.new.text


def word_diff(old: str, new: str) -> Markup:
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    out: list[Markup] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(escape("".join(a[i1:i2])))
            continue
        if tag in ("delete", "replace"):
            out.append(Markup("<del>") + escape("".join(a[i1:i2])) + Markup("</del>"))
        if tag in ("insert", "replace"):
            out.append(Markup("<ins>") + escape("".join(b[j1:j2])) + Markup("</ins>"))
    return Markup("").join(out)


def pair_paragraphs(old: list[Paragraph], new: list[Paragraph]) -> dict[int, Paragraph]:
    """new paragraph id → the old paragraph it continues."""
    old_by_id = {p.id: p for p in old}
    old_by_anchor = {p.anchor: p for p in old}
    pairs: dict[int, Paragraph] = {}
    used: set[int] = set()

    def take(n: Paragraph, o: Paragraph | None) -> None:
        if o is not None and o.id not in used and n.id not in pairs:
            pairs[n.id] = o
            used.add(o.id)

    for n in new:
        if n.previous_id in old_by_id:
            take(n, old_by_id[n.previous_id])
    for n in new:
        take(n, old_by_anchor.get(n.anchor))
    by_text: dict[str, list[Paragraph]] = {}
    for o in old:
        if o.id not in used:
            by_text.setdefault(o.text, []).append(o)
    for n in new:
        if n.id in pairs:
            continue
        candidates = [o for o in by_text.get(n.text, []) if o.id not in used]
        if candidates:
            take(n, candidates[0])
    rest_old = [o for o in old if o.id not in used]
    for n in new:
        if n.id in pairs or not rest_old:
            continue
        best, best_ratio = None, SIMILAR
        for o in rest_old:
            if o.id in used or o.kind != n.kind:
                continue
            matcher = difflib.SequenceMatcher(None, o.text, n.text, autojunk=False)
            if matcher.real_quick_ratio() < best_ratio or matcher.quick_ratio() < best_ratio:
                continue
            ratio = matcher.ratio()
            if ratio >= best_ratio:
                best, best_ratio = o, ratio
        take(n, best)
    return pairs


def _in_order(positions: list[int]) -> set[int]:
    """Indexes of a longest increasing subsequence: the pairs that kept their order."""
    tails: list[int] = []
    tail_idx: list[int] = []
    prev = [-1] * len(positions)
    for i, pos in enumerate(positions):
        k = bisect.bisect_left(tails, pos)
        if k == len(tails):
            tails.append(pos)
            tail_idx.append(i)
        else:
            tails[k] = pos
            tail_idx[k] = i
        prev[i] = tail_idx[k - 1] if k else -1
    keep, i = set(), tail_idx[-1] if tail_idx else -1
    while i >= 0:
        keep.add(i)
        i = prev[i]
    return keep


def diff_versions(old_version: DocumentVersion, new_version: DocumentVersion) -> list[DiffEntry]:
    _s, old = load_version(old_version)
    _s, new = load_version(new_version)
    pairs = pair_paragraphs(old, new)
    old_index = {p.id: i for i, p in enumerate(old)}
    paired_new = [n for n in new if n.id in pairs]
    kept = _in_order([old_index[pairs[n.id].id] for n in paired_new])
    moved = {paired_new[i].id for i in range(len(paired_new)) if i not in kept}
    paired_old_ids = {o.id for o in pairs.values()}

    entries: list[DiffEntry] = []

    def deleted_after(index: int) -> None:
        """Old paragraphs after old[index] that were deleted, up to the next paired one."""
        j = index + 1
        while j < len(old) and old[j].id not in paired_old_ids:
            entries.append(
                DiffEntry(
                    "deleted",
                    old[j],
                    None,
                    Markup("<del>") + escape(old[j].text) + Markup("</del>"),
                )
            )
            j += 1

    deleted_after(-1)
    for n in new:
        o = pairs.get(n.id)
        if o is None:
            entries.append(
                DiffEntry("inserted", None, n, Markup("<ins>") + escape(n.text) + Markup("</ins>"))
            )
            continue
        if n.id in moved:
            op = "moved"
        elif o.text != n.text:
            op = "changed"
        else:
            op = "same"
        html = word_diff(o.text, n.text) if o.text != n.text else escape(n.text)
        entries.append(DiffEntry(op, o, n, html))
        if n.id not in moved:
            deleted_after(old_index[o.id])
    # Deleted paragraphs that followed a moved one have not been shown yet.
    shown = {e.old.id for e in entries if e.old is not None}
    for o in old:
        if o.id not in shown:
            entries.append(
                DiffEntry("deleted", o, None, Markup("<del>") + escape(o.text) + Markup("</del>"))
            )
    return entries
