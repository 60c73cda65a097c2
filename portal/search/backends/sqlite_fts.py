"""Search on SQLite: an FTS5 table with the ``trigram`` tokenizer, plus side tables.

Why these tables, and why ``ensure_ready`` creates them (not a migration): they are an index,
rebuilt from the catalogue at will (``search rebuild``), swapped by renaming, and dropped
without losing data — the same life cycle as an Elasticsearch index, not a schema.

- ``<t>_docs``        one row per document: id, display title/body, url, sort date.
- ``<t>_fts``         FTS5 (trigram) over the *normalised* title and body, rowid = docs.rid.
                      Trigrams match substrings, so "partn" finds "partnership" and 伙伴关系
                      is found by any 3+ character part of it.
- ``<t>_principals``  (rid, principal) — who may see a document.
- ``<t>_facets``      (rid, facet, value) — filter values.

Permission filtering and facet counts happen inside the SQL query, never in Python after it.
Queries shorter than 3 characters (伙伴) cannot use trigrams; they scan the normalised text
with ``instr`` instead, bounded to ``SHORT_SCAN_LIMIT`` matches.
"""

# SQL is assembled from identifiers chosen in code (the table name is checked in __init__)
# and fixed fragments; every user-supplied value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator

from sqlalchemy import text

from portal.search.backends.database import make_snippet, query_terms
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

    def _ddl(self, t: str) -> list[str]:
        token = uuid.uuid4().hex[:8]  # index names survive a rename; keep them unique
        return [
            f"CREATE TABLE IF NOT EXISTS {t}_docs (rid INTEGER PRIMARY KEY, doc_id TEXT NOT NULL"
            f" UNIQUE, kind TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,"
            f" url TEXT NOT NULL, sort_date TEXT)",
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {t}_fts USING fts5(title_norm, body_norm,"
            f" tokenize='trigram')",
            f"CREATE TABLE IF NOT EXISTS {t}_principals (principal TEXT NOT NULL,"
            f" rid INTEGER NOT NULL, PRIMARY KEY (principal, rid)) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_principals_rid_{token} ON {t}_principals (rid)",
            f"CREATE TABLE IF NOT EXISTS {t}_facets (facet TEXT NOT NULL, value TEXT NOT NULL,"
            f" rid INTEGER NOT NULL, PRIMARY KEY (facet, value, rid)) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_facets_rid_{token} ON {t}_facets (rid)",
        ]

    def _exists(self, conn, t: str) -> bool:
        return bool(
            conn.execute(
                text("SELECT 1 FROM sqlite_master WHERE name = :n"), {"n": f"{t}_docs"}
            ).first()
        )

    def ensure_ready(self) -> None:
        if self._ready:
            return
        with self.engine.begin() as conn:
            if not self._exists(conn, self.table):
                for stmt in self._ddl(self.table):
                    conn.execute(text(stmt))
        self._ready = True

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
                ("principals", "rid"),
                ("facets", "rid"),
                ("docs", "rid"),
            ):
                conn.execute(text(f"DELETE FROM {t}_{table} WHERE {col} IN ({rid_list})"))

    def _insert(self, conn, t: str, docs: list[SearchDoc]) -> None:
        raw = conn.connection.driver_connection  # executemany on the DB-API cursor: fast
        cur = raw.cursor()
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
            cur.execute(
                f"INSERT INTO {t}_fts (rowid, title_norm, body_norm) VALUES (?, ?, ?)",
                (rid, normalize_text(doc.title), normalize_text(doc.body)),
            )
            cur.executemany(
                f"INSERT OR IGNORE INTO {t}_principals (principal, rid) VALUES (?, ?)",
                [(p, rid) for p in doc.principals],
            )
            cur.executemany(
                f"INSERT OR IGNORE INTO {t}_facets (facet, value, rid) VALUES (?, ?, ?)",
                [(name, value, rid) for name in FACET_FIELDS for value in doc.facet_values(name)],
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
            for table in ("fts", "principals", "facets", "docs"):
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
            for suffix in ("docs", "fts", "principals", "facets"):
                conn.execute(text(f"ALTER TABLE {new}_{suffix} RENAME TO {self.table}_{suffix}"))
        return count

    def _drop(self, conn, t: str) -> None:
        for suffix in ("fts", "principals", "facets", "docs"):
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
        params: dict[str, object] = {}
        where: list[str] = []

        principals = sorted(q.principals) or ["public"]
        marks = ", ".join(f":p{n}" for n in range(len(principals)))
        params.update({f"p{n}": p for n, p in enumerate(principals)})
        where.append(f"d.rid IN (SELECT rid FROM {t}_principals WHERE principal IN ({marks}))")

        for f_index, (facet, values) in enumerate(sorted(q.filters.items())):
            values = [str(v) for v in values if v not in (None, "")]
            if facet not in FACET_FIELDS or not values:
                continue
            vmarks = ", ".join(f":f{f_index}v{n}" for n in range(len(values)))
            params[f"f{f_index}"] = facet
            params.update({f"f{f_index}v{n}": v for n, v in enumerate(values)})
            where.append(
                f"d.rid IN (SELECT rid FROM {t}_facets WHERE facet = :f{f_index}"
                f" AND value IN ({vmarks}))"
            )

        for n, term in enumerate(short_terms):
            params[f"s{n}"] = term
            where.append(
                f"(instr({t}_fts.title_norm, :s{n}) > 0 OR instr({t}_fts.body_norm, :s{n}) > 0)"
            )

        if long_terms:
            # Each term becomes an FTS5 string ("…", inner quotes doubled): never syntax.
            params["match"] = " AND ".join(
                '"' + term.replace('"', '""') + '"' for term in long_terms
            )
            where.append(f"{t}_fts MATCH :match")
            rank = f"bm25({t}_fts, 10.0, 1.0)"
        elif short_terms:
            rank = f"(CASE WHEN instr({t}_fts.title_norm, :s0) > 0 THEN 0 ELSE 1 END)"
        else:
            rank = "0"

        from_clause = f"{t}_docs d JOIN {t}_fts ON {t}_fts.rowid = d.rid"
        where_sql = " AND ".join(where)
        limit = f" LIMIT {SHORT_SCAN_LIMIT}" if short_terms and not long_terms else ""

        if q.sort == "date":
            order = "m.sort_date IS NULL, m.sort_date DESC, m.rank, m.rid DESC"
        else:
            order = "m.rank, m.sort_date IS NULL, m.sort_date DESC, m.rid DESC"
        per_page = max(1, int(q.per_page))
        page = max(1, int(q.page))

        with self.engine.connect() as conn:
            # One pass over the matches into a per-connection temp table; total, page and facet
            # counts then read that instead of re-running the full-text match three times.
            conn.execute(
                text(
                    "CREATE TEMP TABLE IF NOT EXISTS search_matched (rid INTEGER PRIMARY KEY,"
                    " rank REAL, sort_date TEXT)"
                )
            )
            conn.execute(text("DELETE FROM temp.search_matched"))
            conn.execute(
                text(
                    f"INSERT INTO temp.search_matched (rid, rank, sort_date)"
                    f" SELECT d.rid, {rank}, d.sort_date FROM {from_clause}"
                    f" WHERE {where_sql}{limit}"
                ),
                params,
            )
            total = conn.execute(text("SELECT count(*) FROM temp.search_matched")).scalar_one()
            rows = conn.execute(
                text(
                    f"SELECT d.doc_id, d.kind, d.title, d.body, d.url, m.rank"
                    f" FROM temp.search_matched m JOIN {t}_docs d ON d.rid = m.rid"
                    f" ORDER BY {order} LIMIT :limit OFFSET :offset"
                ),
                {"limit": per_page, "offset": (page - 1) * per_page},
            ).all()
            facets: dict[str, dict[str, int]] = {name: {} for name in q.facets}
            if q.facets and total:
                fmarks = ", ".join(f":fc{n}" for n in range(len(q.facets)))
                for facet, value, count in conn.execute(
                    text(
                        f"SELECT f.facet, f.value, count(*) FROM temp.search_matched m"
                        f" JOIN {t}_facets f ON f.rid = m.rid WHERE f.facet IN ({fmarks})"
                        f" GROUP BY f.facet, f.value ORDER BY count(*) DESC, f.value"
                    ),
                    {f"fc{n}": name for n, name in enumerate(q.facets)},
                ):
                    facets.setdefault(facet, {})[value] = count
            conn.execute(text("DELETE FROM temp.search_matched"))
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
