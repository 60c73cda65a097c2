#!/usr/bin/env python3
"""Git merge driver for gettext catalogues (``*.po``): merges by message, not by line.

Two branches that each add strings (and move every ``#:`` location comment) conflict on
nearly every line when merged as text. This driver parses the common ancestor (O), ours (A)
and theirs (B) and writes the union into A: a message only one side added is kept; a message
one side changed (translation, flags) takes that side's version; a message one side removed
and the other left alone is removed. When both changed the same message differently, ours
wins and the driver reports it (exit 0 — the translation test still checks completeness).

Enabled by ``.gitattributes`` (``*.po merge=pocatalogue``) and, once per clone:
    git config merge.pocatalogue.driver ".venv/bin/python scripts/po_merge.py %O %A %B"
    git config merge.keepours.driver true   # *.mo: recompile after the merge
After a merge, run ``pybabel update`` and ``pybabel compile`` (docs/translations.md).
"""

from __future__ import annotations

import sys

from babel.messages.pofile import read_po, write_po


def _read(path: str):
    with open(path, "rb") as fh:
        return read_po(fh, abort_invalid=False)


def _key(message):
    return (message.context, message.id if isinstance(message.id, str) else message.id[0])


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return a.string == b.string and set(a.flags) == set(b.flags)


def main(base_path: str, ours_path: str, theirs_path: str) -> int:
    base, ours, theirs = _read(base_path), _read(ours_path), _read(theirs_path)
    base_by = {_key(m): m for m in base if m.id}
    ours_by = {_key(m): m for m in ours if m.id}
    theirs_by = {_key(m): m for m in theirs if m.id}
    for key, t in theirs_by.items():
        o, a = base_by.get(key), ours_by.get(key)
        if a is None:
            if o is None or not _same(o, t):  # added by theirs, or changed by theirs
                ours[t.id] = t
                ours.get(t.id, t.context).context = t.context
        elif not _same(a, t):
            if o is not None and _same(o, a):  # only theirs changed it
                a.string, a.flags = t.string, set(t.flags)
            elif o is None or not _same(o, t):
                print(f"po_merge: both sides changed {key[1][:60]!r}; kept ours", file=sys.stderr)
        if a is not None:
            a.locations = sorted(set(a.locations) | set(t.locations))
    for key, o in base_by.items():  # removed by theirs, untouched by ours
        a = ours_by.get(key)
        if key not in theirs_by and a is not None and _same(o, a):
            ours.delete(a.id, a.context)
    with open(ours_path, "wb") as fh:
        write_po(fh, ours, width=76)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
