"""Search on PostgreSQL: one ``search_documents`` table with tsvector and pg_trgm indexes.

Created by ``ensure_ready`` rather than a migration because it is an index — rebuilt from the
catalogue (``search rebuild``) into a new table and swapped in by renaming.

- Matching: every term must occur as a substring of the normalised text (``LIKE '%term%'``,
  served by a pg_trgm GIN index). This is what makes "partn" find "partnership". A 1–2
  character Chinese term (伙伴 inside 伙伴关系) has no trigram at all, so LIKE would scan
  every row; those terms are looked up in ``grams`` instead, a GIN-indexed array of each
  document's 1- and 2-character CJK substrings (exact: the term occurs iff it is a gram).
- Ranking: ``ts_rank`` over a ``simple`` tsvector (title weighted A, body B) with prefix
  lexemes, plus a bonus for title matches.
- Typo tolerance: when nothing matches, a second pass also accepts documents containing a
  word close to a term — within one edit (two from 9 letters), or with a trigram word
  similarity over ``pg_trgm.word_similarity_threshold`` (``term <% word``, a misspelt word
  still being typed) — so "parnership" still finds "partnership". The candidate words come
  from ``<t>_words``, the index's vocabulary (the tsvector lexemes) under its own trigram
  index — a few thousand short strings — and the documents are then found through the
  tsvector index. Comparing the term with every document's whole text instead
  (``term <% all_norm``) rechecked thousands of long texts per query (1–2 s at 10k
  documents), and its verdict depended on the document's other words: "reducion" matched
  333 of the 1,864 documents containing "reduction".
- Principals and facets are ``text[]`` columns with GIN indexes; filters and facet counts are
  computed in SQL under the principal filter.
- One statement per search: the matching rows are gathered once (a materialised CTE) and the
  total, the page and the facet counts are all read from that set.

User input never becomes query syntax: terms are letters and digits only, LIKE wildcards are
escaped, and tsquery lexemes are quoted.
"""

# SQL is assembled from identifiers chosen in code (the table name is checked in __init__)
# and fixed fragments; every user-supplied value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

from sqlalchemy import text

from portal.search.analysis import (
    KIND_BOOSTS,
    ParsedQuery,
    Term,
    did_you_mean,
    parse_query,
    stems_of,
)
from portal.search.backends.database import (
    Vocabulary,
    cjk_grams,
    correct_terms,
    hit_with_snippet,
    is_short_cjk,
    like_pattern,
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
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,40}")
# Vocabulary words kept for typo matching: shorter ones can never reach the similarity
# threshold against a 4+ letter term, longer ones are not words people type.
WORD_MIN, WORD_MAX = 3, 60
_INDEX_SUFFIXES = ("tsv", "trgm", "grams", "principals", "facets", "sort_date")


def _lexeme(word: str) -> str:
    """A quoted tsquery lexeme: the word is data, never tsquery syntax."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


class PostgresBackend(SearchBackend):
    name = "postgresql"
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
    default_table = "search_documents"

    def __init__(self, engine, table: str = default_table):
        if not _IDENTIFIER.fullmatch(table):
            raise ValueError(f"Invalid index table name {table!r}")
        self.engine = engine
        self.table = table
        self._ready = False
        self.vocabulary = Vocabulary()

    def __repr__(self) -> str:
        return f"<PostgresBackend {self.table}>"

    # --- schema ---------------------------------------------------------------------------

    @staticmethod
    def _ddl(t: str) -> list[str]:
        """Tables first (``[:2]``), then their indexes (built after a bulk load)."""
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
            " grams text[] NOT NULL DEFAULT '{}',"  # 1–2 character CJK substrings (cjk_grams)
            " principals text[] NOT NULL,"
            " facets text[] NOT NULL,"  # 'facet:value' strings
            " boost real NOT NULL DEFAULT 1,"  # KIND_BOOSTS
            " labels text[],"  # SearchDoc.labels; NULL: a row of the layout before them
            f" CONSTRAINT pk_{t} PRIMARY KEY (doc_id))",
            # The vocabulary (tsvector lexemes) for typo matching; may keep words of deleted
            # documents until the next rebuild, which only widens the candidate list.
            f"CREATE TABLE IF NOT EXISTS {t}_words (n bigserial, word text NOT NULL,"
            f" CONSTRAINT pk_{t}_words PRIMARY KEY (word))",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_tsv ON {t} USING gin (tsv)",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_trgm ON {t} USING gin (all_norm gin_trgm_ops)",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_grams ON {t} USING gin (grams)",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_principals ON {t} USING gin (principals)",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_facets ON {t} USING gin (facets)",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_sort_date ON {t} (sort_date)",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_words_trgm ON {t}_words"
            " USING gin (word gin_trgm_ops)",
        ]

    @staticmethod
    def _fill_words(t: str) -> str:
        return (
            f"INSERT INTO {t}_words (word) SELECT DISTINCT w FROM {t},"
            f" unnest(tsvector_to_array(tsv)) AS w WHERE length(w) BETWEEN {WORD_MIN} AND"
            f" {WORD_MAX} ORDER BY w ON CONFLICT DO NOTHING"
        )

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
            self._upgrade(conn)
            for stmt in self._ddl(self.table):
                conn.execute(text(stmt))
        self._ready = True

    def _upgrade(self, conn) -> None:
        """Bring an index table built by an earlier version up to date, in place.

        Earlier tables lack ``grams`` and the ``_words`` vocabulary; both are derived from
        what the table already holds, so no ``search rebuild`` is needed.
        """
        t = self.table
        columns = {
            r[0]
            for r in conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = :t"
                ),
                {"t": t},
            )
        }
        if not columns:
            return  # a new index: _ddl creates everything
        if "grams" not in columns:
            conn.execute(text(f"ALTER TABLE {t} ADD COLUMN grams text[] NOT NULL DEFAULT '{{}}'"))
            rows = conn.execute(text(f"SELECT doc_id, all_norm FROM {t}")).all()
            updates = [
                {"doc_id": doc_id, "grams": grams}
                for doc_id, all_norm in rows
                if (grams := cjk_grams(all_norm))
            ]
            for start in range(0, len(updates), BATCH):
                conn.execute(
                    text(f"UPDATE {t} SET grams = :grams WHERE doc_id = :doc_id"),
                    updates[start : start + BATCH],
                )
        has_words = conn.execute(text("SELECT to_regclass(:n)"), {"n": f"{t}_words"}).scalar()
        if has_words is None:
            conn.execute(text(self._ddl(t)[1]))
            conn.execute(text(self._fill_words(t)))
        if "labels" not in columns:
            # Before SearchDoc.labels: NULL marks the rows written in the old layout (their
            # body ends with English labels) until ``search rebuild`` (``outdated_count``).
            conn.execute(text(f"ALTER TABLE {t} ADD COLUMN labels text[]"))
        if "boost" not in columns:
            # Before stems, kind boosts and the numbered vocabulary: recompute the tsvector
            # (stems), set the boosts, number the words.
            conn.execute(text(f"ALTER TABLE {t} ADD COLUMN boost real NOT NULL DEFAULT 1"))
            rows = conn.execute(text(f"SELECT doc_id, kind, title, body FROM {t}")).all()
            updates = []
            for doc_id, kind, title, body in rows:
                row = self._row(SearchDoc(id=doc_id, kind=kind, title=title, body=body, url=""))
                updates.append({k: row[k] for k in ("doc_id", "title_col", "body_col", "boost")})
            for start in range(0, len(updates), BATCH):
                conn.execute(
                    text(
                        f"UPDATE {t} SET boost = :boost,"
                        " tsv = setweight(to_tsvector('simple', :title_col), 'A')"
                        " || setweight(to_tsvector('simple', :body_col), 'B')"
                        " WHERE doc_id = :doc_id"
                    ),
                    updates[start : start + BATCH],
                )
            conn.execute(text(f"ALTER TABLE {t}_words ADD COLUMN IF NOT EXISTS n bigserial"))
            conn.execute(text(self._fill_words(t)))

    # --- writes ---------------------------------------------------------------------------

    @staticmethod
    def _row(doc: SearchDoc) -> dict:
        title_norm = normalize_text(doc.title)
        body_norm = normalize_text(doc.matched_body)
        title_stems, body_stems = stems_of(title_norm), stems_of(body_norm)
        return {
            "title_col": f"{title_norm} {title_stems}",
            "body_col": f"{body_norm} {body_stems}",
            "boost": KIND_BOOSTS.get(doc.kind, 1.0),
            "doc_id": doc.id,
            "kind": doc.kind,
            "title": doc.title,
            "body": doc.body,
            "url": doc.url,
            "sort_date": doc.sort_date,
            "title_norm": title_norm,
            "body_norm": body_norm,
            "all_norm": f"{title_norm}\n{body_norm}",
            "grams": cjk_grams(title_norm, body_norm),
            "principals": list(doc.principals),
            "facets": [f"{name}:{v}" for name in FACET_FIELDS for v in doc.facet_values(name)],
            "labels": list(doc.labels),
        }

    def _insert(self, conn, t: str, docs: list[SearchDoc]) -> None:
        conn.execute(
            text(
                f"INSERT INTO {t} (doc_id, kind, title, body, url, sort_date, title_norm,"
                " all_norm, tsv, grams, principals, facets, boost, labels) VALUES (:doc_id, :kind,"
                " :title, :body, :url, :sort_date, :title_norm, :all_norm,"
                " setweight(to_tsvector('simple', :title_col), 'A')"
                " || setweight(to_tsvector('simple', :body_col), 'B'),"
                " :grams, :principals, :facets, :boost, :labels)"
                " ON CONFLICT (doc_id) DO UPDATE SET kind = EXCLUDED.kind, title = EXCLUDED.title,"
                " body = EXCLUDED.body, url = EXCLUDED.url, sort_date = EXCLUDED.sort_date,"
                " title_norm = EXCLUDED.title_norm, all_norm = EXCLUDED.all_norm,"
                " tsv = EXCLUDED.tsv, grams = EXCLUDED.grams, principals = EXCLUDED.principals,"
                " facets = EXCLUDED.facets, boost = EXCLUDED.boost, labels = EXCLUDED.labels"
            ),
            [self._row(doc) for doc in docs],
        )

    def upsert(self, docs: list[SearchDoc]) -> None:
        if not docs:
            return
        self.ensure_ready()
        t = self.table
        with self.engine.begin() as conn:
            for start in range(0, len(docs), BATCH):
                chunk = docs[start : start + BATCH]
                self._insert(conn, t, chunk)
                conn.execute(
                    text(
                        self._fill_words(t).replace(" WHERE ", " WHERE doc_id = ANY(:ids) AND ", 1)
                    ),
                    {"ids": [d.id for d in chunk]},
                )

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
            conn.execute(text(f"TRUNCATE {self.table}, {self.table}_words"))

    def outdated_count(self) -> int:
        self.ensure_ready()
        with self.engine.connect() as conn:
            return conn.execute(
                text(f"SELECT count(*) FROM {self.table} WHERE labels IS NULL")
            ).scalar_one()

    def rebuild(self, docs: Iterable[SearchDoc], progress=None) -> int:
        """Fill ``<t>_new``, then drop the live tables and rename the new ones, atomically."""
        self.ensure_ready()
        t, new = self.table, f"{self.table}_new"
        with self.engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {new}, {new}_words"))
            # Indexes are built after loading: much faster than maintaining them row by row.
            for stmt in self._ddl(new)[:2]:
                conn.execute(text(stmt))
        count = 0
        batch: list[SearchDoc] = []
        with self.engine.begin() as conn:
            # The new tables are invisible until the swap and rebuilt from the database on any
            # failure, so this transaction need not wait for its WAL flush; a larger
            # maintenance_work_mem lets the GIN indexes be built in memory after the load.
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
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
            conn.execute(text(self._fill_words(new)))
            for stmt in self._ddl(new)[2:]:
                conn.execute(text(stmt))
            # Fresh tables have no planner statistics until autovacuum gets to them; without
            # them the planner guesses badly (sequential scans) for the first queries.
            conn.execute(text(f"ANALYZE {new}"))
            conn.execute(text(f"ANALYZE {new}_words"))
        with self.engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {t}, {t}_words"))
            conn.execute(text(f"ALTER TABLE {new} RENAME TO {t}"))
            conn.execute(text(f"ALTER TABLE {new}_words RENAME TO {t}_words"))
            conn.execute(text(f"ALTER INDEX pk_{new} RENAME TO pk_{t}"))
            conn.execute(text(f"ALTER INDEX pk_{new}_words RENAME TO pk_{t}_words"))
            for suffix in (*_INDEX_SUFFIXES, "words_trgm"):
                conn.execute(text(f"ALTER INDEX ix_{new}_{suffix} RENAME TO ix_{t}_{suffix}"))
        return count

    def ids(self) -> Iterator[str]:
        self.ensure_ready()
        with self.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT doc_id FROM {self.table} ORDER BY doc_id")).all()
        yield from (r[0] for r in rows)

    # --- search ---------------------------------------------------------------------------

    def _vocabulary(self, conn) -> Vocabulary:
        t = self.table
        # A rebuilt table has a new oid, a truncated one a new file node: either starts over.
        token, last = conn.execute(
            text(
                f"SELECT pg_relation_filenode(CAST(:t AS regclass)),"
                f" (SELECT coalesce(max(n), 0) FROM {t}_words)"
            ),
            {"t": f"{t}_words"},
        ).one()

        def fetch(after: int):
            rows = conn.execute(
                text(f"SELECT n, word FROM {t}_words WHERE n > :after ORDER BY n"),
                {"after": after},
            )
            return [(n, w) for n, w in rows if w.isalpha()]

        self.vocabulary.refresh(token, last, fetch)
        return self.vocabulary

    def search(self, q: SearchQuery) -> SearchResults:
        self.ensure_ready()
        parsed = parse_query(q.text)
        with self.engine.connect() as conn:
            corrected = False
            if any(term.is_word for term in parsed.terms):
                corrected = correct_terms(self._vocabulary(conn), parsed)
            results, best_text = self._search(conn, q, parsed)
        if corrected and best_text is not None and q.page <= 1:
            results.did_you_mean = did_you_mean(parsed, best_text, q.text)
        return results

    def _term_condition(self, term: Term, n: int, params: dict) -> str:
        """SQL that is true when a document matches ``term`` (a word by its text, its stem or
        a correction; a CJK run; a punctuation-joined token)."""
        if term.cjk and is_short_cjk(term.text):
            params[f"g{n}"] = [term.text]
            return f"grams @> CAST(:g{n} AS text[])"
        if len(term.parts) > 1:
            params[f"l{n}"] = like_pattern(term.raw)
            return f"all_norm LIKE :l{n}"
        params[f"l{n}"] = like_pattern(term.text)
        condition = f"all_norm LIKE :l{n}"
        lexemes = [*([term.stem] if term.stem else []), *term.corrections]
        if lexemes:
            params[f"x{n}"] = " | ".join(_lexeme(w) for w in lexemes)
            condition = f"({condition} OR tsv @@ CAST(:x{n} AS tsquery))"
        return condition

    def _search(self, conn, q: SearchQuery, parsed: ParsedQuery):
        """(results, normalised text of the best hit or None)."""
        t = self.table
        params: dict[str, object] = {"principals": sorted(q.principals) or ["public"]}
        where = ["principals && CAST(:principals AS text[])"]
        for n, (facet, values) in enumerate(sorted(q.filters.items())):
            values = [f"{facet}:{v}" for v in values if v not in (None, "")]
            if facet not in FACET_FIELDS or not values:
                continue
            params[f"f{n}"] = values
            where.append(f"facets && CAST(:f{n} AS text[])")

        optional = [self._term_condition(term, n, params) for n, term in enumerate(parsed.terms)]
        required = []
        for n, phrase in enumerate(parsed.phrases):
            params[f"ph{n}"] = like_pattern(" ".join(phrase))
            required.append(f"all_norm LIKE :ph{n}")
        # Every quoted phrase, or else at least one word; words beyond that only rank.
        if required:
            where.extend(required)
        elif optional:
            where.append("(" + " OR ".join(optional) + ")")

        lexemes = []
        title_parts = []
        for n, term in enumerate(parsed.terms):
            if term.is_word:
                others = [*([term.stem] if term.stem else []), *term.corrections]
                lexemes.append(f"{_lexeme(term.text)}:*")
                lexemes.extend(_lexeme(w) for w in others)
                # Weight A is the title: the word, its stem or a correction in the title.
                params[f"tt{n}"] = " | ".join(
                    [f"{_lexeme(term.text)}:*A", *(f"{_lexeme(w)}:A" for w in others)]
                )
                params[f"tl{n}"] = like_pattern(term.text)
                title_parts.append(f"(title_norm LIKE :tl{n} OR tsv @@ CAST(:tt{n} AS tsquery))")
            else:
                params[f"tl{n}"] = like_pattern(term.raw if len(term.parts) > 1 else term.text)
                title_parts.append(f"title_norm LIKE :tl{n}")
        for phrase in parsed.phrases:
            lexemes.extend(_lexeme(w) for w in phrase)
        hits_sql = (
            " + ".join(f"(CASE WHEN {c} THEN 1 ELSE 0 END)" for c in optional) if optional else "0"
        )
        title_sql = f"({' OR '.join(title_parts)})" if title_parts else "false"
        if lexemes:
            params["tsq"] = " | ".join(lexemes)
            rank = "ts_rank(tsv, CAST(:tsq AS tsquery)) * boost"
        else:
            rank = "boost"

        def order(alias: str) -> str:
            if q.sort == "date":
                return f"{alias}sort_date DESC NULLS LAST, {alias}rank DESC, {alias}doc_id"
            return (
                f"{alias}hits DESC, {alias}in_title DESC, {alias}rank DESC,"
                f" {alias}sort_date DESC NULLS LAST, {alias}doc_id"
            )

        per_page = max(1, int(q.per_page))
        params["limit"] = per_page
        params["offset"] = (max(1, int(q.page)) - 1) * per_page
        facet_sql = (
            "(SELECT json_agg(json_build_array(f, c) ORDER BY c DESC, f) FROM"
            " (SELECT f, count(*) AS c FROM m, unnest(m.facets) AS f GROUP BY f) AS x)"
            if q.facets
            else "NULL"
        )
        # The matches are gathered once; total, page and facet counts all read that set.
        total, page_rows, facet_rows = conn.execute(
            text(
                f"WITH m AS MATERIALIZED (SELECT doc_id, sort_date, facets, {hits_sql} AS hits,"
                f" {title_sql} AS in_title, {rank} AS rank FROM {t} WHERE {' AND '.join(where)}),"
                f" p AS (SELECT doc_id, sort_date, hits, in_title, rank FROM m ORDER BY {order('')}"
                " LIMIT :limit OFFSET :offset)"
                " SELECT (SELECT count(*) FROM m),"
                " (SELECT json_agg(json_build_array(d.doc_id, d.kind, d.title, d.body, d.url,"
                f" p.rank, d.labels) ORDER BY {order('p.')}) FROM p JOIN {t} AS d"
                " ON d.doc_id = p.doc_id),"
                f" {facet_sql}"
            ),
            params,
        ).one()
        if isinstance(page_rows, str):  # drivers that do not decode json
            page_rows, facet_rows = json.loads(page_rows), json.loads(facet_rows or "null")

        facets: dict[str, dict[str, int]] = {name: {} for name in q.facets}
        for value, count in facet_rows or []:
            name, _, val = value.partition(":")
            if name in facets:
                facets[name][val] = count
        words = parsed.words()
        hits = [hit_with_snippet(*row[:5], words, row[5], row[6]) for row in page_rows or []]
        best_text = f"{page_rows[0][2]}\n{page_rows[0][3]}" if page_rows else None
        return SearchResults(total=total, hits=hits, facets=facets, backend=self.name), best_text
