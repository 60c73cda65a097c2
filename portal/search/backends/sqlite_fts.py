"""Search on SQLite: an FTS5 table with the ``trigram`` tokenizer, plus side tables.

Why these tables, and why ``ensure_ready`` creates them (not a migration): they are an index,
rebuilt from the catalogue at will (``search rebuild``), swapped by renaming, and dropped
without losing data — the same life cycle as an Elasticsearch index, not a schema.

- ``<t>_docs``        one row per document: id, display title/body, url, sort date.
- ``<t>_fts``         FTS5 (trigram) over the *normalised* title and body, rowid = docs.rid.
                      Trigrams match substrings, so "partn" finds "partnership" and 伙伴关系
                      is found by any 3+ character part of it.
- ``<t>_cjk``         FTS5 (trigram), rowid = docs.rid, only for documents with CJK text:
                      their CJK characters once more, space-separated (" 伙 伴 关 系 "), so
                      a 1–2 character Chinese word becomes a 3-character phrase ("伙 伴",
                      " 城 ") the trigram index can look up instead of scanning every row.
                      A table of its own, because bm25 normalises by a row's total length
                      over all columns: a column in ``<t>_fts`` would change the ranking.
- ``<t>_principals``  (principal, rid) — who may see a document.
- ``<t>_fvals``       (v, facet, value) — every facet value once, numbered.
- ``<t>_fv``          (rid, v) — a document's facet values, by number: counting facets over
                      20,000 matches groups small integers read in rid order, about twice as
                      fast as grouping (facet, value) text pairs.

Permission filtering and facet counts happen inside the SQL query, never in Python after it.
Short non-CJK queries (1–2 letters, "de") cannot use trigrams; they scan the normalised text
with ``instr`` instead, bounded to ``SHORT_SCAN_LIMIT`` matches.

Where the time goes at 100k documents (a common word matches ~20,000 visible documents):
the FTS5 match with ``bm25`` for every match, then the facet counts. The search therefore
never touches ``<t>_docs`` (wide rows) for the whole match set: the temp table holds
(rid, rank) only, and the page is cut by rank first — only rows ranked at or above the
last row of the page are joined to ``<t>_docs`` for the tie-breaking sort date.
"""

# SQL is assembled from identifiers chosen in code (the table name is checked in __init__)
# and fixed fragments; every user-supplied value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator

from sqlalchemy import text

from portal.search.backends.database import is_short_cjk, make_snippet, query_terms
from portal.search.base import (
    FACET_FIELDS,
    SearchBackend,
    SearchDoc,
    SearchHit,
    SearchQuery,
    SearchResults,
    normalize_text,
)

SHORT_SCAN_LIMIT = 5_000
BATCH = 500
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,40}")
_TABLES = ("fts", "cjk", "principals", "fv", "fvals", "docs")  # suffixes, children before docs


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


def cjk_phrase(term: str) -> str:
    """The 3-character ``cjk`` column phrase for a 1–2 character CJK term."""
    return f" {term} " if len(term) == 1 else " ".join(term)


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
    def _cjk_ddl(t: str) -> str:
        return f"CREATE VIRTUAL TABLE IF NOT EXISTS {t}_cjk USING fts5(cjk, tokenize='trigram')"

    def _ddl(self, t: str) -> list[str]:
        token = uuid.uuid4().hex[:8]  # index names survive a rename; keep them unique
        return [
            f"CREATE TABLE IF NOT EXISTS {t}_docs (rid INTEGER PRIMARY KEY, doc_id TEXT NOT NULL"
            f" UNIQUE, kind TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,"
            f" url TEXT NOT NULL, sort_date TEXT)",
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {t}_fts USING fts5(title_norm, body_norm,"
            f" tokenize='trigram')",
            self._cjk_ddl(t),
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

        Earlier indexes kept facets as (facet, value, rid) text rows and had no ``<t>_cjk``;
        everything needed is in the index itself, so no ``search rebuild`` is needed.
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
        if not self._exists(conn, f"{t}_cjk"):
            conn.execute(text(self._cjk_ddl(t)))
            raw = conn.connection.driver_connection
            rows = raw.execute(f"SELECT rowid, title_norm, body_norm FROM {t}_fts")
            while chunk := rows.fetchmany(BATCH):
                raw.executemany(
                    f"INSERT INTO {t}_cjk (rowid, cjk) VALUES (?, ?)",
                    [
                        (rowid, cjk)
                        for rowid, title_norm, body_norm in chunk
                        if (cjk := cjk_column(title_norm, body_norm))
                    ],
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
                ("fts", "rowid"),
                ("cjk", "rowid"),
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
                f"INSERT INTO {t}_fts (rowid, title_norm, body_norm) VALUES (?, ?, ?)",
                (rid, title_norm, body_norm),
            )
            if cjk := cjk_column(title_norm, body_norm):
                cur.execute(f"INSERT INTO {t}_cjk (rowid, cjk) VALUES (?, ?)", (rid, cjk))
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
        for suffix in (*_TABLES, "facets"):  # facets: the layout before fv/fvals
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
        long_terms = [term for term in terms if len(term) >= 3]
        short_terms = [term for term in terms if len(term) < 3]
        short_cjk = [term for term in short_terms if is_short_cjk(term)]
        scan_terms = [term for term in short_terms if not is_short_cjk(term)]
        # Each term becomes an FTS5 string ("…", inner quotes doubled): never syntax.
        params: dict[str, object] = {}
        where: list[str] = []
        indexed = bool(long_terms or short_cjk)
        if short_cjk:
            params["cjk"] = " AND ".join(f'"{cjk_phrase(term)}"' for term in short_cjk)
        if long_terms:
            # Driven by the full-text match; the other conditions are checked per match.
            from_clause = f"{t}_fts"
            rid = f"{t}_fts.rowid"
            params["match"] = " AND ".join(
                '"' + term.replace('"', '""') + '"' for term in long_terms
            )
            where.append(f"{t}_fts MATCH :match")
            if short_cjk:
                where.append(f"{rid} IN (SELECT rowid FROM {t}_cjk WHERE {t}_cjk MATCH :cjk)")
        elif short_cjk:
            from_clause = f"{t}_cjk CROSS JOIN {t}_fts ON {t}_fts.rowid = {t}_cjk.rowid"
            rid = f"{t}_cjk.rowid"
            where.append(f"{t}_cjk MATCH :cjk")
        elif scan_terms:
            from_clause = f"{t}_docs d JOIN {t}_fts ON {t}_fts.rowid = d.rid"
            rid = "d.rid"
        else:
            from_clause = f"{t}_docs d"
            rid = "d.rid"

        principals = sorted(q.principals) or ["public"]
        marks = ", ".join(f":p{n}" for n in range(len(principals)))
        params.update({f"p{n}": p for n, p in enumerate(principals)})
        if indexed:
            # Probing the (principal, rid) key per match beats listing every visible rid
            # (70,000 of 100,000 are public) for a match set a fraction of that size.
            where.append(
                f"EXISTS (SELECT 1 FROM {t}_principals p WHERE p.principal IN ({marks})"
                f" AND p.rid = {rid})"
            )
        else:
            where.append(f"{rid} IN (SELECT rid FROM {t}_principals WHERE principal IN ({marks}))")

        for f_index, (facet, values) in enumerate(sorted(q.filters.items())):
            values = [str(v) for v in values if v not in (None, "")]
            if facet not in FACET_FIELDS or not values:
                continue
            vmarks = ", ".join(f":f{f_index}v{n}" for n in range(len(values)))
            params[f"f{f_index}"] = facet
            params.update({f"f{f_index}v{n}": v for n, v in enumerate(values)})
            where.append(
                f"{rid} IN (SELECT x.rid FROM {t}_fv x JOIN {t}_fvals v ON v.v = x.v"
                f" WHERE v.facet = :f{f_index} AND v.value IN ({vmarks}))"
            )

        for n, term in enumerate(short_terms):
            params[f"s{n}"] = term
            if term in scan_terms:
                where.append(
                    f"(instr({t}_fts.title_norm, :s{n}) > 0 OR instr({t}_fts.body_norm, :s{n}) > 0)"
                )

        if long_terms:
            rank = f"bm25({t}_fts, 10.0, 1.0)"
        elif short_terms:
            rank = f"(CASE WHEN instr({t}_fts.title_norm, :s0) > 0 THEN 0 ELSE 1 END)"
        else:
            rank = "0"

        where_sql = " AND ".join(where)
        limit = f" LIMIT {SHORT_SCAN_LIMIT}" if scan_terms and not indexed else ""
        per_page = max(1, int(q.per_page))
        page = max(1, int(q.page))
        page_params = {"limit": per_page, "offset": (page - 1) * per_page}
        if q.sort == "date":
            order = "d.sort_date IS NULL, d.sort_date DESC, m.rank, m.rid DESC"
            cut = ""
        else:
            order = "m.rank, d.sort_date IS NULL, d.sort_date DESC, m.rid DESC"
            # Rows ranked below the page's last row can never be on the page: only the rows
            # at or above it are joined to the (wide) docs rows for the sort-date tie-break.
            cut = (
                " WHERE m.rank <= coalesce((SELECT rank FROM temp.search_matches"
                " ORDER BY rank LIMIT 1 OFFSET :cut), 1e308)"
            )
            page_params["cut"] = page * per_page - 1

        with self.engine.connect() as conn:
            # One pass over the matches into a per-connection temp table; total, page and facet
            # counts then read that instead of re-running the full-text match three times.
            conn.execute(
                text(
                    "CREATE TEMP TABLE IF NOT EXISTS search_matches (rid INTEGER PRIMARY KEY,"
                    " rank REAL)"
                )
            )
            conn.execute(text("DELETE FROM temp.search_matches"))
            conn.execute(
                text(
                    f"INSERT INTO temp.search_matches (rid, rank)"
                    f" SELECT {rid}, {rank} FROM {from_clause} WHERE {where_sql}{limit}"
                ),
                params,
            )
            total = conn.execute(text("SELECT count(*) FROM temp.search_matches")).scalar_one()
            rows = conn.execute(
                text(
                    f"SELECT d.doc_id, d.kind, d.title, d.body, d.url, m.rank"
                    f" FROM temp.search_matches m CROSS JOIN {t}_docs d ON d.rid = m.rid{cut}"
                    f" ORDER BY {order} LIMIT :limit OFFSET :offset"
                ),
                page_params,
            ).all()
            facets: dict[str, dict[str, int]] = {name: {} for name in q.facets}
            if q.facets and total:
                fmarks = ", ".join(f":fc{n}" for n in range(len(q.facets)))
                for facet, value, count in conn.execute(
                    text(
                        f"SELECT v.facet, v.value, g.c FROM (SELECT x.v, count(*) AS c"
                        f" FROM temp.search_matches m CROSS JOIN {t}_fv x ON x.rid = m.rid"
                        f" GROUP BY x.v) g JOIN {t}_fvals v ON v.v = g.v"
                        f" WHERE v.facet IN ({fmarks}) ORDER BY g.c DESC, v.value"
                    ),
                    {f"fc{n}": name for n, name in enumerate(q.facets)},
                ):
                    facets.setdefault(facet, {})[value] = count
            conn.execute(text("DELETE FROM temp.search_matches"))
            conn.commit()

        hits = [
            SearchHit(
                id=doc_id,
                kind=kind,
                title=title,
                url=url,
                snippet=make_snippet(body, terms, title),
                score=None if rank_value is None else -float(rank_value),
            )
            for doc_id, kind, title, body, url, rank_value in rows
        ]
        return SearchResults(total=total, hits=hits, facets=facets, backend=self.name)
