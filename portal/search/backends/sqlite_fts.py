"""Search on SQLite: FTS5 word and CJK-character indexes, plus narrow side tables.

Why these tables, and why ``ensure_ready`` creates them (not a migration): they are an index,
rebuilt from the catalogue at will (``search rebuild``), swapped by renaming, and dropped
without losing data — the same life cycle as an Elasticsearch index, not a schema.

- ``<t>_docs``        one row per document: id, display title/body, url, sort date.
- ``<t>_words``       FTS5 (``unicode61``, prefix indexes for 2 and 3 characters) over the
                      *normalised* title and body, rowid = docs.rid. Every query word is a
                      prefix ("partn" finds "partnership"; as-you-type), like the prefix
                      search of Elasticsearch and Meilisearch.
- ``<t>_cjk``         FTS5 (trigram), rowid = docs.rid, only for documents with CJK text:
                      their CJK characters once more, space-separated (" 伙 伴 关 系 "), title
                      and body in two columns. Chinese has no spaces between words, so a
                      Chinese query of any length becomes a phrase of characters ("伙 伴",
                      " 城 ") found inside longer words (伙伴关系). A table of its own, because
                      bm25 normalises by a row's total length over all columns.
- ``<t>_facts``       one narrow row per document: rid, a public flag, the sort date and the
                      document's facet values as a string of one character each
                      (``facet_code``). Everything a search needs for its whole match set
                      — permission, total, facet counts, date order — is one lookup here.
- ``<t>_principals``  (principal, rid) — who may see a non-public document.
- ``<t>_fvals``       (v, facet, value) — every facet value once, numbered.
- ``<t>_fv``          (rid, v) — a document's facet values by number, indexed by value:
                      facet *filters* probe it.

Permission filtering and facet counts happen inside SQL, over the visible match set; Python
only counts the characters of the facet string SQLite concatenated for it.

Ranking (sort by relevance): documents whose *title* contains a query word come first, then
the ones that match in the body only; bm25 (title weighted 10×) orders each tier, then the
sort date, newest first. For one word the tiers are two statements, and the second runs only
when the title tier cannot fill the requested page: the first page of "water" is ranked among
its ~1,000 title matches instead of all ~27,000. Several words are one statement: their
intersection is small, and evaluating the expression is what costs. Totals and facet counts
are always exact.

Why words and not trigrams (the layout before): a trigram phrase for "infrastructure" is 12
posting lists to intersect, with positions, per statement and again for bm25's statistics —
two long words took ~70 ms at 100k documents; as words they take ~25 ms. Substrings inside a
word ("ship" in "partnership") are no longer found, as on the other engines. See
docs/benchmarks.md.
"""

# SQL is assembled from identifiers chosen in code (the table name is checked in __init__)
# and fixed fragments; every user-supplied value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import heapq
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np
from sqlalchemy import text

from portal.search.analysis import (
    FIELD_WEIGHTS,
    KIND_BOOSTS,
    ParsedQuery,
    did_you_mean,
    parse_query,
    stems_of,
)
from portal.search.backends.database import (
    Vocabulary,
    correct_terms,
    hit_with_snippet,
    typo_candidates,
    vocabulary_words,
)
from portal.search.base import (
    FACET_FIELDS,
    SearchBackend,
    SearchDoc,
    SearchQuery,
    SearchResults,
    normalize_text,
)

BATCH = 500
_WORDS = re.compile(r"\w+")  # words as ``vocabulary_words`` splits them
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,40}")
_TABLES = (
    "vocab",
    "meta",
    "words",
    "cjk",
    "facts",
    "principals",
    "fv",
    "fvals",
    "docs",
)  # suffixes, children before docs


def indexed_column(norm: str) -> str:
    """What the word index holds for a normalised field: its text, then the stems of its
    Arabic and Russian words, so a stemmed query word finds every form."""
    extra = stems_of(norm)
    return f"{norm}\n{extra}" if extra else norm


def kind_boost(kind: str) -> float:
    return KIND_BOOSTS.get(kind, 1.0)


# The ranges of ``portal.search.base.is_cjk``, as a regex: documents are scanned at C speed.
_CJK_RUN = re.compile("[\u4e00-\u9fff\u3400-\u4dbf\u3040-\u30ff\uac00-\ud7af\uf900-\ufaff]+")


def cjk_column(*texts: str) -> str:
    """The CJK characters of ``texts``, each between spaces, one line per run ("" if none).

    Runs are kept apart by a newline so the last character of one run and the first of the
    next never form a phrase together.
    """
    return "\n".join(
        " " + " ".join(run) + " " for text_ in texts for run in _CJK_RUN.findall(text_)
    )


def cjk_phrase(run: str) -> str:
    """The ``cjk`` column phrase for a run of CJK characters: at least 3 characters, so the
    trigram index can look it up (" 城 " for one character)."""
    return f" {run} " if len(run) == 1 else " ".join(run)


def split_terms(terms: list[str]) -> tuple[list[str], list[str]]:
    """(words, CJK runs) of the query terms: CJK is looked up by characters, the rest by
    words. A term mixing both ("a股") is split into its parts."""
    words: list[str] = []
    runs: list[str] = []
    for term in terms:
        for run in _CJK_RUN.findall(term):
            if run not in runs:
                runs.append(run)
        for word in _CJK_RUN.split(term):
            if word and word not in words:
                words.append(word)
    return words, runs


def facet_code(v: int) -> str:
    """One character for facet value number ``v`` (skipping the surrogates UTF-8 cannot store).

    A document's facet values become a short string; the facet counts of 30,000 matches are
    then one ``group_concat`` in SQLite and one ``bincount`` over its characters in Python,
    several times faster than SQLite sorting 200,000 (rid, value) rows for a ``GROUP BY``.
    """
    cp = 0x100 + v
    return chr(cp + 0x800 if cp >= 0xD800 else cp)


# The same mapping in SQL, for upgrading an index in place.
_FACET_CODE_SQL = "char(CASE WHEN {v} + 256 < 55296 THEN {v} + 256 ELSE {v} + 2304 END)"


def code_counts(codes: str) -> np.ndarray:
    """How often each code point occurs in ``codes``: ``counts[ord(ch)]``."""
    return np.bincount(np.frombuffer(codes.encode("utf-32-le"), dtype="<u4"))


def _driver(conn):
    """The sqlite3 connection under a SQLAlchemy one: the query path's statements go straight
    to it (named parameters, plain tuples), saving SQLAlchemy's ~0.4 ms per statement."""
    return conn.connection.driver_connection


def fts_string(term: str) -> str:
    """An FTS5 string for ``term`` ("…", inner quotes doubled): never query syntax."""
    return '"' + term.replace('"', '""') + '"'


def _best(rows: list, wanted: int, key) -> list:
    """The first ``wanted`` rows by ``key``, then date (newest first, none last), then rid
    (newest first). Rows are (rid, in title, score, sort date, …)."""
    best = heapq.nsmallest(wanted, rows, key=key)
    if not best:
        return []
    edge = key(best[-1])
    best = [row for row in rows if key(row) <= edge]  # every row tied with the last one
    best.sort(key=lambda row: row[0], reverse=True)
    best.sort(key=lambda row: row[3] or "", reverse=True)
    best.sort(key=key)
    return best[:wanted]


def tier_expressions(phrases: list[str], title_column: str) -> tuple[str, str, str]:
    """(all, title tier, body-only tier) FTS5 expressions for ``phrases``.

    The title tier is the documents matching every phrase with at least one in the title;
    the body tier the rest. A single phrase's title tier is just its title match, so bm25
    ranks it by the title alone — cheaper, and the same order in practice.
    """
    everything = " AND ".join(phrases)
    in_title = f"{{{title_column}}} : ({' OR '.join(phrases)})"
    if len(phrases) == 1:
        return everything, in_title, f"{everything} NOT {in_title}"
    return everything, f"({everything}) AND {in_title}", f"({everything}) NOT {in_title}"


@contextmanager
def _bulk_load(conn) -> Iterator[None]:
    """Connection settings while a rebuild loads its new tables (private until the swap, so
    nothing is lost that a rebuild cannot redo): a 128 MiB page cache instead of 2 MiB (the
    FTS5 segments and b-trees being built stay in memory instead of spilling to the WAL
    mid-transaction) and no fsync at the load's commit. The swap commits with the usual
    durability; both settings are restored on the pooled connection."""
    raw = conn.connection.driver_connection
    cache, sync = (
        raw.execute(f"PRAGMA {name}").fetchone()[0] for name in ("cache_size", "synchronous")
    )
    raw.execute("PRAGMA cache_size = -131072")
    raw.execute("PRAGMA synchronous = OFF")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size = {int(cache)}")
        raw.execute(f"PRAGMA synchronous = {int(sync)}")


class SqliteFtsBackend(SearchBackend):
    name = "sqlite-fts5"
    capabilities = frozenset(
        {
            "facets",
            "highlight",
            "prefix",
            "typo",
            "stemming",
            "phrase",
            "did_you_mean",
            "any_word",
            "kind_boost",
        }
    )
    default_table = "search_index"

    def __init__(self, engine, table: str = default_table):
        if not _IDENTIFIER.fullmatch(table):
            raise ValueError(f"Invalid index table name {table!r}")
        self.engine = engine
        self.table = table
        self._ready = False
        self.vocabulary = Vocabulary()

    def __repr__(self) -> str:
        return f"<SqliteFtsBackend {self.table}>"

    # --- schema ---------------------------------------------------------------------------

    @staticmethod
    def _facet_ddl(t: str, token: str) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {t}_fvals (v INTEGER PRIMARY KEY, facet TEXT NOT NULL,"
            f" value TEXT NOT NULL, UNIQUE (facet, value))",
            f"CREATE TABLE IF NOT EXISTS {t}_fv (rid INTEGER NOT NULL, v INTEGER NOT NULL,"
            f" PRIMARY KEY (rid, v)) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_fv_v_{token} ON {t}_fv (v)",  # for filters
        ]

    @staticmethod
    def _words_ddl(t: str) -> str:
        # remove_diacritics 0: the text is already folded by normalize_text, the same
        # function the query goes through; the tokenizer must not fold differently.
        return (
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {t}_words USING fts5(title_norm, body_norm,"
            f" tokenize='unicode61 remove_diacritics 0', prefix='2 3')"
        )

    @staticmethod
    def _cjk_ddl(t: str) -> str:
        return (
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {t}_cjk USING fts5(cjk_title, cjk_body,"
            f" tokenize='trigram')"
        )

    @staticmethod
    def _facts_ddl(t: str) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {t}_facts (rid INTEGER PRIMARY KEY,"
            f" public INTEGER NOT NULL, sort_date TEXT, codes TEXT NOT NULL,"
            f" boost REAL NOT NULL DEFAULT 1)"
        )

    @staticmethod
    def _vocab_ddl(t: str) -> list[str]:
        # The index's words for typo matching (``Vocabulary``), numbered in insertion order;
        # ``meta.token`` changes when the table is replaced or cleared.
        return [
            f"CREATE TABLE IF NOT EXISTS {t}_vocab (n INTEGER PRIMARY KEY,"
            f" word TEXT NOT NULL UNIQUE)",
            f"CREATE TABLE IF NOT EXISTS {t}_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            f"INSERT OR REPLACE INTO {t}_meta (key, value) VALUES ('token', '{uuid.uuid4().hex}')",
        ]

    def _ddl(self, t: str) -> list[str]:
        token = uuid.uuid4().hex[:8]  # index names survive a rename; keep them unique
        return [
            f"CREATE TABLE IF NOT EXISTS {t}_docs (rid INTEGER PRIMARY KEY, doc_id TEXT NOT NULL"
            f" UNIQUE, kind TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,"
            f" url TEXT NOT NULL, sort_date TEXT, labels TEXT)",
            self._words_ddl(t),
            self._cjk_ddl(t),
            self._facts_ddl(t),
            f"CREATE TABLE IF NOT EXISTS {t}_principals (principal TEXT NOT NULL,"
            f" rid INTEGER NOT NULL, PRIMARY KEY (principal, rid)) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_principals_rid_{token} ON {t}_principals (rid)",
            *self._facet_ddl(t, token),
            *self._vocab_ddl(t),
        ]

    def _exists(self, conn, name: str) -> bool:
        return bool(
            conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = :n"), {"n": name}).first()
        )

    def ensure_ready(self) -> None:
        if self._ready:
            return
        with self.engine.begin() as conn:
            if not self._exists(conn, f"{self.table}_docs"):
                for stmt in self._ddl(self.table):
                    conn.execute(text(stmt))
            else:
                self._upgrade(conn)
        self._ready = True

    def _upgrade(self, conn) -> None:
        """Bring an index built by an earlier version up to date from its own tables.

        Earlier indexes kept facets as (facet, value, rid) text rows, had a trigram
        ``<t>_fts`` instead of ``<t>_words``, a one-column ``<t>_cjk`` (or none) and no
        ``<t>_facts``; everything needed is in the index itself, so no ``search rebuild``.
        """
        t = self.table
        if not self._exists(conn, f"{t}_fv"):
            for stmt in self._facet_ddl(t, uuid.uuid4().hex[:8]):
                conn.execute(text(stmt))
            if self._exists(conn, f"{t}_facets"):
                conn.execute(
                    text(
                        f"INSERT INTO {t}_fvals (facet, value) SELECT DISTINCT facet, value"
                        f" FROM {t}_facets"
                    )
                )
                conn.execute(
                    text(
                        f"INSERT INTO {t}_fv (rid, v) SELECT f.rid, v.v FROM {t}_facets f"
                        f" JOIN {t}_fvals v ON v.facet = f.facet AND v.value = f.value"
                    )
                )
                conn.execute(text(f"DROP TABLE {t}_facets"))
        if not self._exists(conn, f"{t}_words"):
            conn.execute(text(self._words_ddl(t)))
            conn.execute(
                text(
                    f"INSERT INTO {t}_words (rowid, title_norm, body_norm)"
                    f" SELECT rowid, title_norm, body_norm FROM {t}_fts"
                )
            )
            conn.execute(text(f"DROP TABLE {t}_fts"))
        if not self._exists(conn, f"{t}_cjk") or "cjk_title" not in self._sql_of(conn, f"{t}_cjk"):
            # Missing, or the one-column layout before the title/body tiers.
            conn.execute(text(f"DROP TABLE IF EXISTS {t}_cjk"))
            conn.execute(text(self._cjk_ddl(t)))
            raw = conn.connection.driver_connection
            rows = raw.execute(f"SELECT rowid, title_norm, body_norm FROM {t}_words")
            while chunk := rows.fetchmany(BATCH):
                pairs = [
                    (rowid, cjk_column(title_norm), cjk_column(body_norm))
                    for rowid, title_norm, body_norm in chunk
                ]
                raw.executemany(
                    f"INSERT INTO {t}_cjk (rowid, cjk_title, cjk_body) VALUES (?, ?, ?)",
                    [row for row in pairs if row[1] or row[2]],
                )
        if not self._exists(conn, f"{t}_facts"):
            conn.execute(text(self._facts_ddl(t)))
            code = _FACET_CODE_SQL.format(v="f.v")
            conn.execute(
                text(
                    f"INSERT INTO {t}_facts (rid, public, sort_date, codes)"
                    f" SELECT d.rid, EXISTS (SELECT 1 FROM {t}_principals p"
                    f" WHERE p.principal = 'public' AND p.rid = d.rid), d.sort_date,"
                    f" coalesce((SELECT group_concat({code}, '') FROM {t}_fv f"
                    f" WHERE f.rid = d.rid), '') FROM {t}_docs d"
                )
            )
        if "boost" not in self._sql_of(conn, f"{t}_facts"):
            conn.execute(text(f"ALTER TABLE {t}_facts ADD COLUMN boost REAL NOT NULL DEFAULT 1"))
            for kind, boost in KIND_BOOSTS.items():
                conn.execute(
                    text(
                        f"UPDATE {t}_facts SET boost = :b WHERE rid IN"
                        f" (SELECT rid FROM {t}_docs WHERE kind = :k)"
                    ),
                    {"b": boost, "k": kind},
                )
        if " labels " not in self._sql_of(conn, f"{t}_docs"):
            # Before SearchDoc.labels: NULL marks the rows written in the old layout (their
            # body ends with English labels) until ``search rebuild`` (``outdated_count``).
            conn.execute(text(f"ALTER TABLE {t}_docs ADD COLUMN labels TEXT"))
        if not self._exists(conn, f"{t}_vocab"):
            # Before stemming and typo tolerance: index the stems, collect the vocabulary.
            raw = conn.connection.driver_connection
            rows = raw.execute(f"SELECT rid, title, body FROM {t}_docs").fetchall()
            vocabulary: set[str] = set()
            updates = []
            for rid, title, body in rows:
                title_col = indexed_column(normalize_text(title))
                body_col = indexed_column(normalize_text(body))
                vocabulary |= vocabulary_words(title_col, body_col)
                updates.append((rid, title_col, body_col))
            raw.execute(f"DELETE FROM {t}_words")
            raw.executemany(
                f"INSERT INTO {t}_words (rowid, title_norm, body_norm) VALUES (?, ?, ?)", updates
            )
            for stmt in self._vocab_ddl(t):
                conn.execute(text(stmt))
            raw.executemany(
                f"INSERT OR IGNORE INTO {t}_vocab (word) VALUES (?)",
                [(w,) for w in sorted(vocabulary)],
            )

    def _sql_of(self, conn, name: str) -> str:
        return (
            conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": name}
            ).scalar()
            or ""
        )

    # --- writes ---------------------------------------------------------------------------

    def _delete(self, conn, t: str, ids: list[str]) -> None:
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            marks = ", ".join(f":i{n}" for n in range(len(chunk)))
            params = {f"i{n}": v for n, v in enumerate(chunk)}
            rids = [
                r[0]
                for r in conn.execute(
                    text(f"SELECT rid FROM {t}_docs WHERE doc_id IN ({marks})"), params
                )
            ]
            if not rids:
                continue
            rid_list = ", ".join(str(int(r)) for r in rids)
            for table, col in (
                ("words", "rowid"),
                ("cjk", "rowid"),
                ("facts", "rid"),
                ("principals", "rid"),
                ("fv", "rid"),
                ("docs", "rid"),
            ):
                conn.execute(text(f"DELETE FROM {t}_{table} WHERE {col} IN ({rid_list})"))

    def _insert(
        self, conn, t: str, docs: list[SearchDoc], vocabulary: set[str] | None = None
    ) -> None:
        """Insert ``docs``; their words go to ``vocabulary`` when given (a rebuild filters and
        writes it once at the end: ``vocabulary_words``), else straight to ``<t>_vocab``.

        One statement per document for ``<t>_docs`` (its rowid numbers the rest), then one
        ``executemany`` per table for the batch.
        """
        raw = conn.connection.driver_connection  # executemany on the DB-API cursor: fast
        cur = raw.cursor()
        numbers = {
            (facet, value): v
            for v, facet, value in cur.execute(f"SELECT v, facet, value FROM {t}_fvals")
        }
        words_rows: list[tuple] = []
        cjk_rows: list[tuple] = []
        principal_rows: list[tuple] = []
        fv_rows: list[tuple] = []
        facts_rows: list[tuple] = []
        found_words: set[str] = set()
        find_words = _WORDS.findall
        insert_doc = (
            f"INSERT INTO {t}_docs (rid, doc_id, kind, title, body, url, sort_date, labels)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        # A rebuild fills tables nobody else writes: it numbers the rows itself and inserts
        # them in one executemany. An upsert shares the live table and lets SQLite number.
        rebuilding = vocabulary is not None
        next_rid = (
            cur.execute(f"SELECT coalesce(max(rid), 0) + 1 FROM {t}_docs").fetchone()[0]
            if rebuilding
            else None
        )
        docs_rows: list[tuple] = []
        for doc in docs:
            sort_date = doc.sort_date.isoformat() if doc.sort_date else None
            row = (doc.kind, doc.title, doc.body, doc.url, sort_date, "\n".join(doc.labels))
            if rebuilding:
                rid = next_rid
                next_rid += 1
                docs_rows.append((rid, doc.id, *row))
            else:
                cur.execute(insert_doc, (None, doc.id, *row))
                rid = cur.lastrowid
            title_norm, body_norm = normalize_text(doc.title), normalize_text(doc.matched_body)
            title_col, body_col = indexed_column(title_norm), indexed_column(body_norm)
            words_rows.append((rid, title_col, body_col))
            found_words.update(find_words(title_col))
            found_words.update(find_words(body_col))
            if not (title_norm.isascii() and body_norm.isascii()):
                cjk_title, cjk_body = cjk_column(title_norm), cjk_column(body_norm)
                if cjk_title or cjk_body:
                    cjk_rows.append((rid, cjk_title, cjk_body))
            principal_rows.extend((p, rid) for p in doc.principals)
            values = set()
            for name in FACET_FIELDS:
                for value in doc.facet_values(name):
                    v = numbers.get((name, value))
                    if v is None:
                        cur.execute(
                            f"INSERT INTO {t}_fvals (facet, value) VALUES (?, ?)", (name, value)
                        )
                        v = numbers[(name, value)] = cur.lastrowid
                    values.add(v)
            ordered = sorted(values)
            fv_rows.extend((rid, v) for v in ordered)
            facts_rows.append(
                (
                    rid,
                    "public" in doc.principals,
                    sort_date,
                    "".join(facet_code(v) for v in ordered),
                    kind_boost(doc.kind),
                )
            )
        if docs_rows:
            cur.executemany(insert_doc, docs_rows)
        cur.executemany(
            f"INSERT INTO {t}_words (rowid, title_norm, body_norm) VALUES (?, ?, ?)", words_rows
        )
        if cjk_rows:
            cur.executemany(
                f"INSERT INTO {t}_cjk (rowid, cjk_title, cjk_body) VALUES (?, ?, ?)", cjk_rows
            )
        cur.executemany(
            f"INSERT OR IGNORE INTO {t}_principals (principal, rid) VALUES (?, ?)", principal_rows
        )
        cur.executemany(f"INSERT OR IGNORE INTO {t}_fv (rid, v) VALUES (?, ?)", fv_rows)
        cur.executemany(
            f"INSERT INTO {t}_facts (rid, public, sort_date, codes, boost) VALUES (?, ?, ?, ?, ?)",
            facts_rows,
        )
        if vocabulary is None:
            cur.executemany(
                f"INSERT OR IGNORE INTO {t}_vocab (word) VALUES (?)",
                [(w,) for w in sorted(typo_candidates(found_words))],
            )
        else:
            vocabulary |= found_words  # filtered once, at the end of the rebuild
        cur.close()

    def upsert(self, docs: list[SearchDoc]) -> None:
        if not docs:
            return
        self.ensure_ready()
        with self.engine.begin() as conn:
            self._delete(conn, self.table, [d.id for d in docs])
            self._insert(conn, self.table, docs)

    def delete(self, ids: list[str]) -> None:
        if not ids:
            return
        self.ensure_ready()
        with self.engine.begin() as conn:
            self._delete(conn, self.table, list(ids))

    def clear(self) -> None:
        self.ensure_ready()
        with self.engine.begin() as conn:
            for table in _TABLES:
                conn.execute(text(f"DELETE FROM {self.table}_{table}"))
            for stmt in self._vocab_ddl(self.table)[2:]:  # a new token: caches start over
                conn.execute(text(stmt))

    def rebuild(self, docs: Iterable[SearchDoc], progress=None) -> int:
        """Fill ``<t>_new_*`` tables, then swap them in by renaming, in one transaction."""
        self.ensure_ready()
        new = f"{self.table}_new"
        count = 0
        with self.engine.begin() as conn:
            self._drop(conn, new)
            for stmt in self._ddl(new):
                conn.execute(text(stmt))
        batch: list[SearchDoc] = []
        vocabulary: set[str] = set()
        with self.engine.connect() as conn, _bulk_load(conn), conn.begin():
            for doc in docs:
                batch.append(doc)
                if len(batch) >= BATCH:
                    self._insert(conn, new, batch, vocabulary)
                    count += len(batch)
                    if progress:
                        progress(len(batch))
                    batch = []
            if batch:
                self._insert(conn, new, batch, vocabulary)
                count += len(batch)
                if progress:
                    progress(len(batch))
            conn.connection.driver_connection.executemany(
                f"INSERT OR IGNORE INTO {new}_vocab (word) VALUES (?)",
                [(w,) for w in sorted(typo_candidates(vocabulary))],
            )
        with self.engine.begin() as conn:
            self._drop(conn, self.table)
            for suffix in _TABLES:
                conn.execute(text(f"ALTER TABLE {new}_{suffix} RENAME TO {self.table}_{suffix}"))
        return count

    def _drop(self, conn, t: str) -> None:
        for suffix in (*_TABLES, "fts", "facets"):  # and the tables of earlier layouts
            conn.execute(text(f"DROP TABLE IF EXISTS {t}_{suffix}"))

    def ids(self) -> Iterator[str]:
        self.ensure_ready()
        with self.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT doc_id FROM {self.table}_docs ORDER BY doc_id"))
            yield from (r[0] for r in rows.all())

    def outdated_count(self) -> int:
        self.ensure_ready()
        with self.engine.connect() as conn:
            return conn.execute(
                text(f"SELECT count(*) FROM {self.table}_docs WHERE labels IS NULL")
            ).scalar_one()

    # --- search ---------------------------------------------------------------------------

    def _vocabulary(self, conn) -> Vocabulary:
        t = self.table
        raw = _driver(conn)
        token, last = raw.execute(
            f"SELECT (SELECT value FROM {t}_meta WHERE key = 'token'),"
            f" (SELECT coalesce(max(n), 0) FROM {t}_vocab)"
        ).fetchone()

        def fetch(after: int):
            return raw.execute(
                f"SELECT n, word FROM {t}_vocab WHERE n > :after ORDER BY n", {"after": after}
            ).fetchall()

        self.vocabulary.refresh(token, last, fetch)
        return self.vocabulary

    @staticmethod
    def _expressions(parsed: ParsedQuery) -> tuple[list[str], list[str], list[str], list[str]]:
        """FTS5 expressions: (optional words, optional CJK, required words, required CJK).

        A word matches as a prefix, or by its stem, or by a typo correction; a
        punctuation-joined token and a quoted phrase match as phrases.
        """
        opt_w: list[str] = []
        opt_c: list[str] = []
        req_w: list[str] = []
        req_c: list[str] = []
        for term in parsed.terms:
            if term.cjk:
                opt_c.append(fts_string(cjk_phrase(term.text)))
            elif len(term.parts) > 1:
                opt_w.append(fts_string(" ".join(term.parts)))
            else:
                alts = [fts_string(term.text) + "*"]
                if term.stem:
                    alts.append(fts_string(term.stem))
                alts += [fts_string(c) for c in term.corrections]
                opt_w.append(alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")")
        for phrase in parsed.phrases:
            words, runs = split_terms(phrase)
            if words:
                req_w.append(fts_string(" ".join(words)))
            req_c.extend(fts_string(cjk_phrase(run)) for run in runs)
        return opt_w, opt_c, req_w, req_c

    def _conditions(self, q: SearchQuery, params: dict) -> list[str]:
        """Visibility and facet filters on the facts row ``x``."""
        t = self.table
        principals = set(q.principals) or {"public"}
        others = sorted(principals - {"public"})
        marks = ", ".join(f":p{n}" for n in range(len(others)))
        params.update({f"p{n}": p for n, p in enumerate(others)})
        # Public documents (most of them) are a flag on the row already read; the others are
        # one probe of the (principal, rid) key each.
        visible = (
            [
                f"EXISTS (SELECT 1 FROM {t}_principals p WHERE p.principal IN ({marks})"
                f" AND p.rid = x.rid)"
            ]
            if others
            else []
        )
        if "public" in principals:
            visible.insert(0, "x.public = 1")
        where = ["(" + " OR ".join(visible) + ")"]
        for f_index, (facet, values) in enumerate(sorted(q.filters.items())):
            values = [str(v) for v in values if v not in (None, "")]
            if facet not in FACET_FIELDS or not values:
                continue
            vmarks = ", ".join(f":f{f_index}v{n}" for n in range(len(values)))
            params[f"f{f_index}"] = facet
            params.update({f"f{f_index}v{n}": v for n, v in enumerate(values)})
            where.append(
                f"x.rid IN (SELECT fv.rid FROM {t}_fv fv JOIN {t}_fvals v ON v.v = fv.v"
                f" WHERE v.facet = :f{f_index} AND v.value IN ({vmarks}))"
            )
        return where

    def search(self, q: SearchQuery) -> SearchResults:
        self.ensure_ready()
        parsed = parse_query(q.text)
        with self.engine.connect() as conn:
            corrected = False
            if any(term.is_word for term in parsed.terms):
                corrected = correct_terms(self._vocabulary(conn), parsed)
            total, facets, page_rows, scored = self._ranked(conn, q, parsed)
            docs = self._docs(conn, [rid for rid, _r in page_rows])
        results = self._results(total, facets, page_rows, docs, parsed.words(), scored)
        if corrected and results.hits and q.page <= 1:
            rid = page_rows[0][0]
            if rid in docs:
                _id, _kind, title, body, _url, _labels = docs[rid]
                results.did_you_mean = did_you_mean(parsed, f"{title}\n{body}", q.text)
        return results

    def _ranked(self, conn, q: SearchQuery, parsed: ParsedQuery):
        """(total, facets, [(rid, rank)] up to the end of the page, scored)."""
        t = self.table
        opt_w, opt_c, req_w, req_c = self._expressions(parsed)
        params: dict[str, object] = {}
        conditions = self._conditions(q, params)
        per_page = max(1, int(q.per_page))
        page = max(1, int(q.page))
        wanted = page * per_page  # rows up to the end of the requested page
        if (opt_w or req_w) and (opt_c or req_c):
            total, facets, ranked = self._mixed(
                conn, q, opt_w, opt_c, req_w, req_c, conditions, params, wanted
            )
            return total, facets, ranked[(page - 1) * per_page : wanted], False
        if opt_w or req_w:
            table, title_column, optional, required = "words", "title_norm", opt_w, req_w
        elif opt_c or req_c:
            table, title_column, optional, required = "cjk", "cjk_title", opt_c, req_c
        else:  # no terms: everything visible
            matches = f"FROM {t}_facts x WHERE {' AND '.join(conditions)}"
            total, facets = self._count(conn, matches, params, q.facets)
            ranked = self._by_date(conn, matches, params, wanted)
            return total, facets, ranked[(page - 1) * per_page : wanted], False

        fts = f"{t}_{table}"
        # Driven by the full-text match; everything else is checked per match.
        matches = (
            f"FROM {fts} CROSS JOIN {t}_facts x ON x.rid = {fts}.rowid"
            f" WHERE {fts} MATCH :match AND {' AND '.join(conditions)}"
        )
        # Every quoted phrase, or else at least one word; words beyond that only rank.
        union = " AND ".join(required) if required else " OR ".join(optional)
        total, facets = self._count(conn, matches, {**params, "match": union}, q.facets)
        if not total:
            return 0, facets, [], True
        if q.sort == "date":
            ranked = self._by_date(conn, matches, {**params, "match": union}, wanted)
            return total, facets, ranked[(page - 1) * per_page : wanted], True

        rank = f"bm25({fts}, {FIELD_WEIGHTS['title']}, {FIELD_WEIGHTS['body']}) * x.boost"
        _all, title_tier, body_tier = tier_expressions(optional + required, title_column)
        # Documents with every word: those with a word in the title first, then the others —
        # the first page of "water" is ranked among its title matches only; the body tier is
        # read only when the page reaches into it.
        ranked: list[tuple[int, float | None]] = []
        exhausted = False
        for step in (title_tier, body_tier):
            if len(ranked) >= wanted or len(ranked) >= total:
                break
            limit = wanted - len(ranked)
            rows = (
                _driver(conn)
                .execute(
                    f"SELECT x.rid, {rank} AS r, x.sort_date {matches} ORDER BY r,"
                    " x.sort_date IS NULL, x.sort_date DESC, x.rid DESC LIMIT :wanted",
                    {**params, "match": step, "wanted": limit},
                )
                .fetchall()
            )
            ranked.extend((rid, r) for rid, r, _date in rows)
            exhausted = step is body_tier and len(rows) < limit
        partial_matches = len(optional) > 1 or (optional and required)
        if partial_matches and exhausted and len(ranked) < min(wanted, total):
            # Several words (or a word beside a phrase) and the page reaches past the
            # documents with all of them: those with most of them next (then title, score,
            # date), read only now.
            raw = _driver(conn)
            seen = {rid for rid, _r in ranked}
            select = f"SELECT x.rid, bm25({fts}, 1.0, 0.0) < 0, {rank}, x.sort_date {matches}"
            partial = [
                row for row in raw.execute(select, {**params, "match": union}) if row[0] not in seen
            ]
            members = [
                {r for (r,) in raw.execute(f"SELECT rowid FROM {fts} WHERE {fts} MATCH ?", (e,))}
                for e in optional
            ]
            counts = {row[0]: sum(row[0] in m for m in members) for row in partial}
            best = _best(
                partial,
                wanted - len(ranked),
                key=lambda row: (-counts[row[0]], not row[1], row[2]),
            )
            ranked += [(row[0], row[2]) for row in best]
        return total, facets, ranked[(page - 1) * per_page : wanted], True

    def _by_date(self, conn, matches: str, params: dict, wanted: int):
        return [
            (rid, None)
            for rid, _date in _driver(conn).execute(
                f"SELECT x.rid, x.sort_date {matches} ORDER BY x.sort_date IS NULL,"
                " x.sort_date DESC, x.rid DESC LIMIT :wanted",
                {**params, "wanted": wanted},
            )
        ]

    def _mixed(self, conn, q, opt_w, opt_c, req_w, req_c, conditions, params, wanted):
        """Words and Chinese in one query: the two indexes are matched separately and the
        sets combined here (rare, and small: a Chinese phrase is specific)."""
        t = self.table
        raw = _driver(conn)

        def rids(table: str, expression: str) -> set[int]:
            return {
                r
                for (r,) in raw.execute(
                    f"SELECT rowid FROM {t}_{table} WHERE {t}_{table} MATCH ?", (expression,)
                )
            }

        optional = [rids("words", e) for e in opt_w] + [rids("cjk", e) for e in opt_c]
        required = [rids("words", e) for e in req_w] + [rids("cjk", e) for e in req_c]
        # Every quoted phrase, or else at least one word; words beyond that only rank.
        candidates: set[int] = set.intersection(*required) if required else set().union(*optional)
        params = {**params, "rids": json.dumps(sorted(candidates))}
        rows = raw.execute(
            f"SELECT x.rid, x.sort_date, x.codes, x.boost FROM json_each(:rids) j"
            f" CROSS JOIN {t}_facts x ON x.rid = j.value WHERE {' AND '.join(conditions)}",
            params,
        ).fetchall()
        facets = self._facet_counts(conn, "".join(row[2] for row in rows), q.facets)
        rows.sort(key=lambda row: row[0], reverse=True)
        rows.sort(key=lambda row: row[1] or "", reverse=True)
        if q.sort != "date":
            rows.sort(key=lambda row: (-sum(row[0] in m for m in optional), -row[3]))
        return len(rows), facets, [(row[0], None) for row in rows[:wanted]]

    def _results(self, total, facets, page_rows, docs, terms, scored: bool) -> SearchResults:
        hits = []
        for rid, rank_value in page_rows:
            if rid not in docs:  # deleted between the statements (each reads the latest commit)
                continue
            score = None if rank_value is None or not scored else -rank_value  # bm25 < 0
            doc_id, kind, title, body, url, labels = docs[rid]
            hits.append(hit_with_snippet(doc_id, kind, title, body, url, terms, score, labels))
        return SearchResults(total=total, hits=hits, facets=facets, backend=self.name)

    def _count(
        self, conn, matches: str, params: dict, wanted_facets
    ) -> tuple[int, dict[str, dict[str, int]]]:
        """The number of visible matches and their facet counts, in one pass over them."""
        raw = _driver(conn)
        facets: dict[str, dict[str, int]] = {name: {} for name in wanted_facets}
        if not wanted_facets:
            (total,) = raw.execute(f"SELECT count(*) FROM (SELECT 1 {matches})", params).fetchone()
            return total, facets
        total, codes = raw.execute(
            f"SELECT count(*), group_concat(codes, '') FROM (SELECT x.codes {matches})", params
        ).fetchone()
        if not total:
            return 0, facets
        return total, self._facet_counts(conn, codes or "", wanted_facets)

    def _facet_counts(self, conn, codes: str, wanted_facets) -> dict[str, dict[str, int]]:
        """{facet: {value: count}} from the facet characters of the matches, largest first.

        The characters are counted in one pass in C: the string's UTF-32 bytes as an array of
        code points, ``bincount`` over them: 1.5 ms for the 206,000 characters of 30,000
        matches, where one ``str.count`` per value (65 values) took 9 ms and a ``Counter``
        23 ms (docs/benchmarks.md).
        """
        facets: dict[str, dict[str, int]] = {name: {} for name in wanted_facets}
        if not codes or not wanted_facets:
            return facets
        fmarks = ", ".join(f":fc{n}" for n in range(len(wanted_facets)))
        values = (
            _driver(conn)
            .execute(
                f"SELECT v, facet, value FROM {self.table}_fvals WHERE facet IN ({fmarks})",
                {f"fc{n}": name for n, name in enumerate(wanted_facets)},
            )
            .fetchall()
        )
        counts = code_counts(codes)
        rows = []
        for v, facet, value in values:
            cp = ord(facet_code(v))
            if cp < len(counts) and (count := int(counts[cp])):
                rows.append((facet, value, count))
        for facet, value, count in sorted(rows, key=lambda row: (-row[2], row[1])):
            facets.setdefault(facet, {})[value] = count
        return facets

    def _docs(self, conn, rids: list[int]) -> dict[int, tuple]:
        """The display fields of the page's documents, by rid."""
        if not rids:
            return {}
        rid_list = ", ".join(str(int(rid)) for rid in rids)
        rows = _driver(conn).execute(
            f"SELECT rid, doc_id, kind, title, body, url, labels FROM {self.table}_docs"
            f" WHERE rid IN ({rid_list})"
        )
        return {rid: rest for rid, *rest in rows}
