"""Search on PostgreSQL: one ``search_documents`` table with tsvector and pg_trgm indexes.

Created by ``ensure_ready`` rather than a migration because it is an index — rebuilt from the
catalogue (``search rebuild``) into a new table and swapped in by renaming.

- Matching: every term must occur as a substring of the normalised text (``LIKE '%term%'``,
  served by a pg_trgm GIN index). This is what makes 伙伴 find 伙伴关系 and "partn" find
  "partnership"; PostgreSQL's word parser cannot split Chinese.
- Ranking: ``ts_rank`` over a ``simple`` tsvector (title weighted A, body B) with prefix
  lexemes, plus a bonus for title matches.
- Typo tolerance: when nothing matches, a second pass accepts words whose trigram similarity
  to a term is high (``<%``), so "parnership" still finds "partnership".
- Principals and facets are ``text[]`` columns with GIN indexes; filters and facet counts are
  computed in SQL under the principal filter.

User input never becomes query syntax: terms are letters and digits only, LIKE wildcards are
escaped, and tsquery lexemes are quoted.
"""

# SQL is assembled from identifiers chosen in code (the table name is checked in __init__)
# and fixed fragments; every user-supplied value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from sqlalchemy import text

from portal.search.backends.database import like_pattern, make_snippet, query_terms
from portal.search.base import (
    FACET_FIELDS,
    SearchBackend,
    SearchDoc,
    SearchHit,
    SearchQuery,
    SearchResults,
    normalize_text,
)

BATCH = 500
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,40}")
TYPO_MIN_LENGTH = 4  # shorter words have too few trigrams to compare meaningfully


class PostgresBackend(SearchBackend):
    name = "postgresql"
    capabilities = frozenset({"facets", "highlight", "prefix", "typo"})
    default_table = "search_documents"

    def __init__(self, engine, table: str = default_table):
        if not _IDENTIFIER.fullmatch(table):
            raise ValueError(f"Invalid index table name {table!r}")
        self.engine = engine
        self.table = table
        self._ready = False

    def __repr__(self) -> str:
        return f"<PostgresBackend {self.table}>"

    # --- schema ---------------------------------------------------------------------------

    @staticmethod
    def _ddl(t: str) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {t} ("
            " doc_id text NOT NULL,"
            " kind text NOT NULL,"
            " title text NOT NULL,"
            " body text NOT NULL,"
            " url text NOT NULL,"
            " sort_date timestamptz,"
            " title_norm text NOT NULL,"
            " all_norm text NOT NULL,"  # normalised title + body: what LIKE and trigrams see
            " tsv tsvector NOT NULL,"
            " principals text[] NOT NULL,"
            " facets text[] NOT NULL,"  # 'facet:value' strings
            f" CONSTRAINT pk_{t} PRIMARY KEY (doc_id))",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_tsv ON {t} USING gin (tsv)",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_trgm ON {t} USING gin (all_norm gin_trgm_ops)",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_principals ON {t} USING gin (principals)",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_facets ON {t} USING gin (facets)",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_sort_date ON {t} (sort_date)",
        ]

    def ensure_ready(self) -> None:
        if self._ready:
            return
        with self.engine.begin() as conn:
            has_trgm = conn.execute(
                text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            ).first()
            if not has_trgm:
                # Trusted since PostgreSQL 13: a database owner may create it without superuser.
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            for stmt in self._ddl(self.table):
                conn.execute(text(stmt))
        self._ready = True

    # --- writes ---------------------------------------------------------------------------

    @staticmethod
    def _row(doc: SearchDoc) -> dict:
        title_norm = normalize_text(doc.title)
        body_norm = normalize_text(doc.body)
        return {
            "doc_id": doc.id,
            "kind": doc.kind,
            "title": doc.title,
            "body": doc.body,
            "url": doc.url,
            "sort_date": doc.sort_date,
            "title_norm": title_norm,
            "body_norm": body_norm,
            "all_norm": f"{title_norm}\n{body_norm}",
            "principals": list(doc.principals),
            "facets": [f"{name}:{v}" for name in FACET_FIELDS for v in doc.facet_values(name)],
        }

    def _insert(self, conn, t: str, docs: list[SearchDoc]) -> None:
        conn.execute(
            text(
                f"INSERT INTO {t} (doc_id, kind, title, body, url, sort_date, title_norm,"
                " all_norm, tsv, principals, facets) VALUES (:doc_id, :kind, :title, :body,"
                " :url, :sort_date, :title_norm, :all_norm,"
                " setweight(to_tsvector('simple', :title_norm), 'A')"
                " || setweight(to_tsvector('simple', :body_norm), 'B'),"
                " :principals, :facets)"
                " ON CONFLICT (doc_id) DO UPDATE SET kind = EXCLUDED.kind, title = EXCLUDED.title,"
                " body = EXCLUDED.body, url = EXCLUDED.url, sort_date = EXCLUDED.sort_date,"
                " title_norm = EXCLUDED.title_norm, all_norm = EXCLUDED.all_norm,"
                " tsv = EXCLUDED.tsv, principals = EXCLUDED.principals, facets = EXCLUDED.facets"
            ),
            [self._row(doc) for doc in docs],
        )

    def upsert(self, docs: list[SearchDoc]) -> None:
        if not docs:
            return
        self.ensure_ready()
        with self.engine.begin() as conn:
            for start in range(0, len(docs), BATCH):
                self._insert(conn, self.table, docs[start : start + BATCH])

    def delete(self, ids: list[str]) -> None:
        if not ids:
            return
        self.ensure_ready()
        with self.engine.begin() as conn:
            conn.execute(
                text(f"DELETE FROM {self.table} WHERE doc_id = ANY(:ids)"), {"ids": list(ids)}
            )

    def clear(self) -> None:
        self.ensure_ready()
        with self.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {self.table}"))

    def rebuild(self, docs: Iterable[SearchDoc], progress=None) -> int:
        """Fill ``<t>_new``, then drop the live table and rename the new one, atomically."""
        self.ensure_ready()
        t, new = self.table, f"{self.table}_new"
        with self.engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {new}"))
            # Indexes are built after loading: much faster than maintaining them row by row.
            conn.execute(text(self._ddl(new)[0]))
        count = 0
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
            for stmt in self._ddl(new)[1:]:
                conn.execute(text(stmt))
        with self.engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {t}"))
            conn.execute(text(f"ALTER TABLE {new} RENAME TO {t}"))
            conn.execute(text(f"ALTER INDEX pk_{new} RENAME TO pk_{t}"))
            for suffix in ("tsv", "trgm", "principals", "facets", "sort_date"):
                conn.execute(text(f"ALTER INDEX ix_{new}_{suffix} RENAME TO ix_{t}_{suffix}"))
        return count

    def ids(self) -> Iterator[str]:
        self.ensure_ready()
        with self.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT doc_id FROM {self.table} ORDER BY doc_id")).all()
        yield from (r[0] for r in rows)

    # --- search ---------------------------------------------------------------------------

    def search(self, q: SearchQuery) -> SearchResults:
        self.ensure_ready()
        terms = query_terms(q.text)
        results = self._search(q, terms, typo=False)
        if results.total == 0 and any(len(t) >= TYPO_MIN_LENGTH for t in terms):
            results = self._search(q, terms, typo=True)
        return results

    def _search(self, q: SearchQuery, terms: list[str], typo: bool) -> SearchResults:
        t = self.table
        params: dict[str, object] = {"principals": sorted(q.principals) or ["public"]}
        where = ["principals && CAST(:principals AS text[])"]
        for n, (facet, values) in enumerate(sorted(q.filters.items())):
            values = [f"{facet}:{v}" for v in values if v not in (None, "")]
            if facet not in FACET_FIELDS or not values:
                continue
            params[f"f{n}"] = values
            where.append(f"facets && CAST(:f{n} AS text[])")

        rank_parts = []
        for n, term in enumerate(terms):
            params[f"t{n}"] = term
            params[f"l{n}"] = like_pattern(term)
            condition = f"all_norm LIKE :l{n}"
            if typo and len(term) >= TYPO_MIN_LENGTH:
                condition = f"({condition} OR :t{n} <% all_norm)"
                rank_parts.append(f"word_similarity(:t{n}, all_norm)")
            where.append(condition)
            rank_parts.append(f"(CASE WHEN title_norm LIKE :l{n} THEN 1.0 ELSE 0 END)")
        if terms:
            # Quoted lexemes with :* (prefix); OR so every matching word adds to the rank.
            params["tsq"] = " | ".join(
                "'" + term.replace("'", "''").replace("\\", "\\\\") + "':*" for term in terms
            )
            rank_parts.append("ts_rank(tsv, to_tsquery('simple', :tsq))")
        rank = " + ".join(rank_parts) if rank_parts else "0"

        where_sql = " AND ".join(where)
        if q.sort == "date":
            order = "sort_date DESC NULLS LAST, rank DESC, doc_id"
        else:
            order = "rank DESC, sort_date DESC NULLS LAST, doc_id"
        per_page = max(1, int(q.per_page))
        params["limit"] = per_page
        params["offset"] = (max(1, int(q.page)) - 1) * per_page

        with self.engine.connect() as conn:
            total = conn.execute(
                text(f"SELECT count(*) FROM {t} WHERE {where_sql}"), params
            ).scalar_one()
            rows = conn.execute(
                text(
                    f"SELECT doc_id, kind, title, body, url, {rank} AS rank FROM {t}"
                    f" WHERE {where_sql} ORDER BY {order} LIMIT :limit OFFSET :offset"
                ),
                params,
            ).all()
            facets: dict[str, dict[str, int]] = {name: {} for name in q.facets}
            if q.facets and total:
                params["wanted"] = [f"{name}:" for name in q.facets]
                for value, count in conn.execute(
                    text(
                        f"SELECT f, count(*) FROM {t}, unnest(facets) AS f WHERE {where_sql}"
                        " AND split_part(f, ':', 1) || ':' = ANY(CAST(:wanted AS text[]))"
                        " GROUP BY f ORDER BY count(*) DESC, f"
                    ),
                    params,
                ):
                    name, _, val = value.partition(":")
                    facets.setdefault(name, {})[val] = count
        hits = [
            SearchHit(
                id=doc_id,
                kind=kind,
                title=title,
                url=url,
                snippet=make_snippet(body, terms, title),
                score=float(rank_value) if rank_value is not None else None,
            )
            for doc_id, kind, title, body, url, rank_value in rows
        ]
        return SearchResults(total=total, hits=hits, facets=facets, backend=self.name)
