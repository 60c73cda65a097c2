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
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator

from sqlalchemy import text

from portal.search.backends.database import hit_with_snippet, query_terms
from portal.search.base import (
    FACET_FIELDS,
    SearchBackend,
    SearchDoc,
    SearchQuery,
    SearchResults,
    normalize_text,
)

BATCH = 500
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,40}")
_TABLES = (
    "words",
    "cjk",
    "facts",
    "principals",
    "fv",
    "fvals",
    "docs",
)  # suffixes, children before docs


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
    then one ``group_concat`` in SQLite and one ``Counter`` over its characters in Python,
    several times faster than SQLite sorting 200,000 (rid, value) rows for a ``GROUP BY``.
    """
    cp = 0x100 + v
    return chr(cp + 0x800 if cp >= 0xD800 else cp)


# The same mapping in SQL, for upgrading an index in place.
_FACET_CODE_SQL = "char(CASE WHEN {v} + 256 < 55296 THEN {v} + 256 ELSE {v} + 2304 END)"


def fts_string(term: str) -> str:
    """An FTS5 string for ``term`` ("…", inner quotes doubled): never query syntax."""
    return '"' + term.replace('"', '""') + '"'


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


class SqliteFtsBackend(SearchBackend):
    name = "sqlite-fts5"
    capabilities = frozenset({"facets", "highlight", "prefix"})
    default_table = "search_index"

    def __init__(self, engine, table: str = default_table):
        if not _IDENTIFIER.fullmatch(table):
            raise ValueError(f"Invalid index table name {table!r}")
        self.engine = engine
        self.table = table
        self._ready = False

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
            f" public INTEGER NOT NULL, sort_date TEXT, codes TEXT NOT NULL)"
        )

    def _ddl(self, t: str) -> list[str]:
        token = uuid.uuid4().hex[:8]  # index names survive a rename; keep them unique
        return [
            f"CREATE TABLE IF NOT EXISTS {t}_docs (rid INTEGER PRIMARY KEY, doc_id TEXT NOT NULL"
            f" UNIQUE, kind TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,"
            f" url TEXT NOT NULL, sort_date TEXT)",
            self._words_ddl(t),
            self._cjk_ddl(t),
            self._facts_ddl(t),
            f"CREATE TABLE IF NOT EXISTS {t}_principals (principal TEXT NOT NULL,"
            f" rid INTEGER NOT NULL, PRIMARY KEY (principal, rid)) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_principals_rid_{token} ON {t}_principals (rid)",
            *self._facet_ddl(t, token),
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

    def _insert(self, conn, t: str, docs: list[SearchDoc]) -> None:
        raw = conn.connection.driver_connection  # executemany on the DB-API cursor: fast
        cur = raw.cursor()
        numbers = {
            (facet, value): v
            for v, facet, value in cur.execute(f"SELECT v, facet, value FROM {t}_fvals")
        }
        for doc in docs:
            cur.execute(
                f"INSERT INTO {t}_docs (doc_id, kind, title, body, url, sort_date)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    doc.id,
                    doc.kind,
                    doc.title,
                    doc.body,
                    doc.url,
                    doc.sort_date.isoformat() if doc.sort_date else None,
                ),
            )
            rid = cur.lastrowid
            title_norm, body_norm = normalize_text(doc.title), normalize_text(doc.body)
            cur.execute(
                f"INSERT INTO {t}_words (rowid, title_norm, body_norm) VALUES (?, ?, ?)",
                (rid, title_norm, body_norm),
            )
            cjk_title, cjk_body = cjk_column(title_norm), cjk_column(body_norm)
            if cjk_title or cjk_body:
                cur.execute(
                    f"INSERT INTO {t}_cjk (rowid, cjk_title, cjk_body) VALUES (?, ?, ?)",
                    (rid, cjk_title, cjk_body),
                )
            cur.executemany(
                f"INSERT OR IGNORE INTO {t}_principals (principal, rid) VALUES (?, ?)",
                [(p, rid) for p in doc.principals],
            )
            values = set()
            for name in FACET_FIELDS:
                for value in doc.facet_values(name):
                    if (name, value) not in numbers:
                        cur.execute(
                            f"INSERT INTO {t}_fvals (facet, value) VALUES (?, ?)", (name, value)
                        )
                        numbers[(name, value)] = cur.lastrowid
                    values.add(numbers[(name, value)])
            cur.executemany(
                f"INSERT OR IGNORE INTO {t}_fv (rid, v) VALUES (?, ?)",
                [(rid, v) for v in sorted(values)],
            )
            cur.execute(
                f"INSERT INTO {t}_facts (rid, public, sort_date, codes) VALUES (?, ?, ?, ?)",
                (
                    rid,
                    "public" in doc.principals,
                    doc.sort_date.isoformat() if doc.sort_date else None,
                    "".join(facet_code(v) for v in sorted(values)),
                ),
            )
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
        with self.engine.begin() as conn:
            for doc in docs:
                batch.append(doc)
                if len(batch) >= BATCH:
                    self._insert(conn, new, batch)
                    count += len(batch)
                    if progress:
                        progress(len(batch))
                    batch = []
            if batch:
                self._insert(conn, new, batch)
                count += len(batch)
                if progress:
                    progress(len(batch))
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

    # --- search ---------------------------------------------------------------------------

    def search(self, q: SearchQuery) -> SearchResults:
        self.ensure_ready()
        t = self.table
        terms = query_terms(q.text)
        words, runs = split_terms(terms)
        word_phrases = [fts_string(word) + "*" for word in words]
        cjk_phrases = [fts_string(cjk_phrase(run)) for run in runs]
        params: dict[str, object] = {}
        where: list[str] = []
        # Each match expression in three versions: everything, title tier, body-only tier.
        tiers: tuple[str, str, str] | None = None
        facts = f"{t}_facts x"
        if word_phrases:
            # Driven by the full-text match; everything else is checked per match.
            from_clause = f"{t}_words CROSS JOIN {facts} ON x.rid = {t}_words.rowid"
            tiers = tier_expressions(word_phrases, "title_norm")
            where.append(f"{t}_words MATCH :match")
            if cjk_phrases:
                params["cjk"] = " AND ".join(cjk_phrases)
                where.append(f"x.rid IN (SELECT rowid FROM {t}_cjk WHERE {t}_cjk MATCH :cjk)")
        elif cjk_phrases:
            from_clause = f"{t}_cjk CROSS JOIN {facts} ON x.rid = {t}_cjk.rowid"
            tiers = tier_expressions(cjk_phrases, "cjk_title")
            where.append(f"{t}_cjk MATCH :match")
        else:
            from_clause = facts
        if tiers:
            params["match"] = tiers[0]

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
        where.append("(" + " OR ".join(visible) + ")")

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

        if q.sort == "date":
            rank = "NULL"  # newest first; no score to compute for every match
        elif word_phrases:
            rank = f"bm25({t}_words, 10.0, 1.0)"
        else:
            rank = "0"  # no terms, or CJK only: the tiers put title matches first
        matches = f"FROM {from_clause} WHERE {' AND '.join(where)}"

        per_page = max(1, int(q.per_page))
        page = max(1, int(q.page))
        wanted = page * per_page  # rows up to the end of the requested page
        with self.engine.connect() as conn:
            if len(word_phrases) > 1 and q.sort != "date":
                # Several words: their intersection is a fraction of one common word's matches,
                # and evaluating the expression is the expensive part — so once, not per tier.
                total, facets, ranked = self._one_pass(conn, matches, params, q.facets, wanted)
                page_rows = ranked[(page - 1) * per_page : wanted]
                docs = self._docs(conn, [rid for rid, _r in page_rows])
                return self._results(total, facets, page_rows, docs, terms, scored=True)
            total, facets = self._count(conn, matches, params, q.facets)
            if q.sort == "date" or not tiers:
                steps = [params]
            else:  # relevance: the title tier, then (if the page needs it) the body tier
                steps = [{**params, "match": tiers[1]}, {**params, "match": tiers[2]}]
            order = (
                "x.sort_date IS NULL, x.sort_date DESC, x.rid DESC"
                if q.sort == "date"
                else "r, x.sort_date IS NULL, x.sort_date DESC, x.rid DESC"
            )
            ranked: list[tuple[int, float | None]] = []
            for step in steps:
                if len(ranked) >= wanted or len(ranked) >= total:
                    break
                ranked.extend(
                    (rid, r)
                    for rid, r, _date in conn.execute(
                        text(
                            f"SELECT x.rid, {rank} AS r, x.sort_date {matches}"
                            f" ORDER BY {order} LIMIT :wanted"
                        ),
                        {**step, "wanted": wanted - len(ranked)},
                    )
                )
            page_rows = ranked[(page - 1) * per_page : wanted]
            docs = self._docs(conn, [rid for rid, _r in page_rows])

        return self._results(total, facets, page_rows, docs, terms, scored=bool(word_phrases))

    def _results(self, total, facets, page_rows, docs, terms, scored: bool) -> SearchResults:
        hits = []
        for rid, rank_value in page_rows:
            if rid not in docs:  # deleted between the statements (each reads the latest commit)
                continue
            score = None if rank_value is None or not scored else -rank_value  # bm25 < 0
            hits.append(hit_with_snippet(*docs[rid], terms, score))
        return SearchResults(total=total, hits=hits, facets=facets, backend=self.name)

    def _one_pass(self, conn, matches: str, params: dict, wanted_facets, wanted: int):
        """Total, facet counts and the first ``wanted`` ranked (rid, bm25) from one statement.

        The same order as the tiers: ``bm25`` with the body weighted 0 is non-zero exactly
        when a query word is in the title (the title tier), then bm25, date, rid.
        """
        t = self.table
        # Thousands of rows: plain DB-API tuples (SQLAlchemy Row objects cost twice the query).
        rows = conn.connection.driver_connection.execute(
            f"SELECT x.rid, bm25({t}_words, 1.0, 0.0) < 0, bm25({t}_words, 10.0, 1.0),"
            f" x.sort_date, x.codes {matches}",
            params,
        ).fetchall()
        facets = self._facet_counts(conn, Counter("".join(row[4] for row in rows)), wanted_facets)
        # Cheap first cut on (tier, score), then the exact order among the few candidates.
        best = heapq.nsmallest(wanted, rows, key=lambda row: (not row[1], row[2]))
        if best:
            edge = (not best[-1][1], best[-1][2])
            best = [row for row in rows if (not row[1], row[2]) <= edge]
            best.sort(key=lambda row: row[0], reverse=True)  # rid, newest first
            best.sort(key=lambda row: row[3] or "", reverse=True)  # date, newest; none last
            best.sort(key=lambda row: (not row[1], row[2]))
        return len(rows), facets, [(row[0], row[2]) for row in best[:wanted]]

    def _count(
        self, conn, matches: str, params: dict, wanted_facets
    ) -> tuple[int, dict[str, dict[str, int]]]:
        """The number of visible matches and their facet counts, in one pass over them."""
        facets: dict[str, dict[str, int]] = {name: {} for name in wanted_facets}
        if not wanted_facets:
            total = conn.execute(text(f"SELECT count(*) FROM (SELECT 1 {matches})"), params)
            return total.scalar_one(), facets
        total, codes = conn.execute(
            text(f"SELECT count(*), group_concat(codes, '') FROM (SELECT x.codes {matches})"),
            params,
        ).one()
        if not total:
            return 0, facets
        return total, self._facet_counts(conn, Counter(codes or ""), wanted_facets)

    def _facet_counts(self, conn, counts: Counter, wanted_facets) -> dict[str, dict[str, int]]:
        """{facet: {value: count}} from the counts of the facet characters, largest first."""
        facets: dict[str, dict[str, int]] = {name: {} for name in wanted_facets}
        if not counts or not wanted_facets:
            return facets
        fmarks = ", ".join(f":fc{n}" for n in range(len(wanted_facets)))
        rows = []
        for v, facet, value in conn.execute(
            text(f"SELECT v, facet, value FROM {self.table}_fvals WHERE facet IN ({fmarks})"),
            {f"fc{n}": name for n, name in enumerate(wanted_facets)},
        ):
            if count := counts.get(facet_code(v)):
                rows.append((facet, value, count))
        for facet, value, count in sorted(rows, key=lambda row: (-row[2], row[1])):
            facets.setdefault(facet, {})[value] = count
        return facets

    def _docs(self, conn, rids: list[int]) -> dict[int, tuple]:
        """The display fields of the page's documents, by rid."""
        if not rids:
            return {}
        rid_list = ", ".join(str(int(rid)) for rid in rids)
        rows = conn.execute(
            text(
                f"SELECT rid, doc_id, kind, title, body, url FROM {self.table}_docs"
                f" WHERE rid IN ({rid_list})"
            )
        )
        return {rid: rest for rid, *rest in rows}
