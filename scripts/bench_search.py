#!/usr/bin/env python
"""Search benchmark: indexing speed and query latency per backend, on a synthetic corpus.

    .venv/bin/python scripts/bench_search.py --size 10000
    .venv/bin/python scripts/bench_search.py --size 100000 --backends sqlite,elasticsearch
    .venv/bin/python scripts/bench_search.py --size 10000 --postgres-url \\
        postgresql+psycopg://portal:portal@127.0.0.1:5432/portal_bench --markdown

Backends are built exactly as the portal builds them (``portal.search.registry.get_backend``
from a ``SEARCH_URL``), each on a scratch app: a temporary SQLite file, the PostgreSQL
database given with ``--postgres-url`` (its search tables are REPLACED: use a scratch
database), and ``bench``-prefixed indexes on the engines (dropped afterwards).

Measured per backend:
- relevance: the judged queries of the relevance suite (``tests/search/relevance.py``) on its
  fixed six-language corpus, MRR and recall@10 per language — the figures the test suite
  asserts, printed next to the speed they cost;
- rebuild: ``backend.rebuild(corpus)`` in docs/s (generation time excluded: docs are built
  before the clock starts, except with --size ≥ 500,000 where they are streamed);
- engine-call latency p50/p95/p99 per query class, ``backend.search`` as the portal calls it
  (public viewer, facets on, 20 hits, snippets built);
- the portal endpoint ``GET /api/v1/search`` (Flask test client, same queries, anonymous)
  over the bare engine call: median(endpoint) / median(engine call), same run.

Engines must be running (scripts/services/{elasticsearch,meilisearch}.sh start).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.search.base import SearchDoc, SearchQuery  # noqa: E402

SEED = 20261124
QUERIES_PER_CLASS = 200

# --- corpus ---------------------------------------------------------------------------------

EN = (
    "water sanitation housing urban planning resilience climate adaptation community land "
    "tenure informal settlement municipal finance transport mobility public space safety "
    "women youth governance partnership agreement programme project capacity development "
    "infrastructure energy waste management drainage flood risk reduction heritage culture "
    "employment livelihood health education data monitoring evaluation innovation digital "
    "inclusion migration displacement recovery reconstruction policy legislation budget"
).split()
FR = (
    "université logement eau assainissement planification urbaine résilience quartier "
    "précaire aménagement collectivité développement coopération sécurité foncière espace "
    "public mobilité énergie déchets réhabilitation patrimoine société civile égalité"
).split()
ES = (
    "vivienda ciudad autónoma agua saneamiento planificación urbana resiliencia espacio "
    "público movilidad energía desarrollo cooperación participación gestión de riesgos "
    "asentamientos informales seguridad tenencia municipio región política"
).split()
RU = (
    "жилищная политика городское планирование водоснабжение санитария устойчивость "
    "муниципалитет развитие сотрудничество общественное пространство транспорт энергия "
    "отходы университет программа проект климат адаптация"
).split()
ZH = (
    "伙伴关系 城市规划 住房 供水 卫生 可持续发展 地方政府 合作协议 气候变化 适应 社区 "
    "公共空间 交通 能源 废物管理 韧性 非正规住区 土地 治理 数据"
).split()
AR = (
    "كِتَاب اتِّفَاقِيَّة تَعَاوُن مَدِينَة إِسْكَان مِيَاه صَرْف صِحِّيّ تَخْطِيط حَضَرِيّ "
    "تَنْمِيَة مُسْتَدَامَة بَلَدِيَّة شَرَاكَة أَرْض مُجْتَمَع مَرْكَز طَاقَة نَقْل"
).split()
LANGS = {"en": EN, "fr": FR, "es": ES, "ru": RU, "zh": ZH, "ar": AR}
# Rare words: each appears in only a handful of documents.
RARE = [f"zx{chr(97 + i)}{chr(97 + j)}lorite" for i in range(10) for j in range(10)]
STATUSES = ["draft", "negotiation", "signed", "active", "closed"]
TYPES = ["mou", "grant", "project-cooperation-agreement", "contribution", "framework"]
COUNTRIES = ["KE", "ZA", "BR", "FR", "ES", "RU", "CN", "EG", "MA", "IN", "MX", "LB", "MZ"]


def make_doc(i: int, rng: random.Random) -> SearchDoc:
    lang = rng.choice(list(LANGS))
    words = LANGS[lang]
    # Mostly one language, some English mixed in, as real agreements are.
    title = " ".join(rng.choice(words) for _ in range(rng.randint(3, 7)))
    body_words = [
        rng.choice(words) if rng.random() < 0.8 else rng.choice(EN)
        for _ in range(rng.randint(30, 90))
    ]
    if rng.random() < 0.02:  # ~2 docs per rare word per 10k
        body_words.insert(rng.randrange(len(body_words)), rng.choice(RARE))
    roll = rng.random()
    if roll < 0.7:
        principals = ["public"]
    elif roll < 0.85:
        principals = ["staff", f"org:{rng.randint(1, 500)}"]
    else:
        principals = ["staff"]
    year = rng.randint(2000, 2026)
    country = rng.choice(COUNTRIES)
    return SearchDoc(
        id=f"agreement:{i}" if i % 5 else f"organization:{i}",
        kind="agreement" if i % 5 else "organization",
        title=title.capitalize() if lang in ("en", "fr", "es") else title,
        body=" ".join(body_words),
        url=f"/agreements/{i}",
        lang=lang,
        principals=principals,
        regions=[rng.choice(["002", "019", "142", "150", "009"])],
        countries=[country],
        agreement_type=rng.choice(TYPES) if i % 5 else None,
        org_type=None if i % 5 else rng.choice(["10", "21", "22", "40"]),
        status=rng.choice(STATUSES) if i % 5 else None,
        year=year,
        domain=rng.randint(1, 4),
        sort_date=datetime(year, 1, 1, tzinfo=UTC) + timedelta(days=rng.randint(0, 364)),
    )


def corpus(size: int) -> Iterator[SearchDoc]:
    rng = random.Random(SEED)
    for i in range(1, size + 1):
        yield make_doc(i, rng)


def query_classes(rng: random.Random, n: int = QUERIES_PER_CLASS) -> dict[str, list[str]]:

    def typo(word: str) -> str:
        k = rng.randrange(1, len(word) - 1)
        return word[:k] + word[k + 1 :]  # one deletion

    long_words = [w for w in EN if len(w) >= 7]
    return {
        "rare term": [rng.choice(RARE) for _ in range(n)],
        "common term": [rng.choice(EN[:12]) for _ in range(n)],
        "two terms": [f"{rng.choice(EN)} {rng.choice(EN)}" for _ in range(n)],
        "prefix": [rng.choice(long_words)[:4] for _ in range(n)],
        "one typo": [typo(rng.choice(long_words)) for _ in range(n)],
        "chinese 2-char": [rng.choice([w[:2] for w in ZH if len(w) >= 3]) for _ in range(n)],
        "arabic diacritics": [rng.choice(AR) for _ in range(n)],
    }


# --- measuring ------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def engine_pid(url: str) -> int | None:
    """The pid of the process listening on ``url``'s port (Linux ``ss``), or None."""
    port = url.rstrip("/").rsplit(":", 1)[-1]
    try:
        out = subprocess.run(  # noqa: S603
            ["ss", "-ltnpH", f"sport = :{port}"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"pid=(\d+)", out)
    return int(found.group(1)) if found else None


_TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int | None) -> float:
    """CPU time (user + system) the process ``pid`` has used so far, in ms (0 if unknown).

    An engine's CPU time per query is what other people's work on the machine does not
    inflate (their load stretches wall time, not the engine's own work); summed over a class
    of queries, the clock-tick resolution averages out."""
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * _TICK_MS


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def make_app(database_url: str, search_url: str, index_prefix: str | None = None):
    from portal import create_app
    from portal.extensions import db

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SEARCH_URL": search_url,
            # Two benches may share an engine: a prefix per process unless --index-prefix.
            "SEARCH_INDEX_PREFIX": index_prefix or f"bench{os.getpid()}",
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": None,
        }
    )
    with app.app_context():
        db.create_all()
    return app


def settle(pid: int | None, idle_share: float = 0.1, limit_s: float = 120.0) -> float:
    """Wait until the engine process is idle (under ``idle_share`` of a core for 2 s) after
    a rebuild: its merges and indexing must not be billed to the first query class."""
    if not pid:
        return 0.0
    started = time.monotonic()
    last = cpu_ms(pid)
    while time.monotonic() - started < limit_s:
        time.sleep(2)
        now = cpu_ms(pid)
        if now - last < 2000 * idle_share:
            break
        last = now
    return time.monotonic() - started


def bench_rebuild(label: str, app, docs, size: int, repeat: int) -> dict:
    """``--rebuild-only``: the rebuild rate alone, ``repeat`` times (engine left idle before
    each), each rebuild replacing the previous index as ``search rebuild`` does."""
    from portal.search.registry import get_backend, is_database

    result: dict = {"backend": label, "size": size, "rates": []}
    with app.app_context():
        backend = get_backend(app)
        backend.ensure_ready()
        pid = engine_pid(getattr(backend, "url", "")) if not is_database(backend) else None
        for _ in range(repeat):
            settle(pid)
            load = os.getloadavg()[0]
            started = time.perf_counter()
            count = backend.rebuild(docs if docs is not None else corpus(size))
            elapsed = time.perf_counter() - started
            result["rates"].append((count / elapsed, load))
            print(
                f"  {label} @ {size:,}: {count:,} docs in {elapsed:.1f} s ="
                f" {count / elapsed:,.0f} docs/s (load average {load:.2f} before)",
                flush=True,
            )
        _drop(backend)
    return result


def bench_backend(
    label: str,
    app,
    docs,
    size: int,
    queries: dict[str, list[str]],
    rounds: int = 1,
    *,
    keep: bool = False,
    reuse: bool = False,
) -> dict:
    """Relevance, rebuild, then the query classes; the index is dropped afterwards unless
    ``keep``. With ``reuse`` the index a ``keep`` run left is queried as it is: no relevance
    suite, no rebuild (so a 1,000,000-document build and its queries can be locked apart)."""
    from portal.search.registry import get_backend, is_database
    from tests.search.relevance import corpus as relevance_corpus
    from tests.search.relevance import evaluate

    result: dict = {"backend": label, "size": size}
    with app.app_context():
        backend = get_backend(app)
        backend.ensure_ready()
        if reuse:
            result["relevance"] = None
            result["rebuild_s"], result["docs_per_s"], result["count"] = 0.0, 0.0, size
        else:
            backend.rebuild(relevance_corpus())
            result["relevance"] = evaluate(backend, label)
            started = time.perf_counter()
            count = backend.rebuild(docs if docs is not None else corpus(size))
            elapsed = time.perf_counter() - started
            result["rebuild_s"] = elapsed
            result["docs_per_s"] = count / elapsed
            result["count"] = count

        if backend.name == "elasticsearch":
            # The benchmark repeats its queries (a dozen common words over 200 calls), and
            # Elasticsearch's shard request cache answers a repeated ``size: 0`` search (the
            # backend's count of the matches) from memory: measure the engine's work instead.
            backend.es.indices.put_settings(
                index=backend.alias, settings={"index.requests.cache.enable": False}
            )
        pid = engine_pid(getattr(backend, "url", "")) if not is_database(backend) else None
        result["settle_s"] = settle(pid)
        # Warm up (JIT, caches, connections) with a few queries of every class.
        for texts in queries.values():
            for text in texts[:10]:
                backend.search(SearchQuery(text=text))
        result["latency"] = {}
        result["hits"] = {}
        result["cpu"] = {}
        result["baseline"] = {}
        result["engine_cpu"] = {}
        result["p95_rounds"] = {}
        baseline = bare_engine_query(backend)
        collected: dict[str, dict[str, list]] = {
            name: {"wall": [], "cpu": [], "bare": [], "ours": [], "engine_bare": [], "hits": []}
            for name in queries
        }
        for _round in range(rounds):
            # Classes in a fresh order each round: none is always measured first (right after
            # the load) or last; the spread of p95 over the rounds is reported.
            order = list(queries)
            random.Random(SEED + _round).shuffle(order)
            for name in order:
                got = collected[name]
                walls = []
                for text in queries[name]:
                    # The bare-engine baseline interleaved with the portal's call, query by
                    # query: both see the same load, so their ratio says what the portal's
                    # query costs.
                    before = cpu_ms(pid)
                    got["bare"].append(timed(lambda t=text: baseline(t)))
                    between = cpu_ms(pid)
                    started, cpu_started = time.perf_counter(), time.process_time()
                    res = backend.search(SearchQuery(text=text, principals={"public"}))
                    walls.append((time.perf_counter() - started) * 1000)
                    got["cpu"].append((time.process_time() - cpu_started) * 1000)
                    got["ours"].append(cpu_ms(pid) - between)
                    got["engine_bare"].append(between - before)
                    got["hits"].append(bool(res.total))
                got["wall"].extend(walls)
                result["p95_rounds"].setdefault(name, []).append(percentile(walls, 95))
        for name, got in collected.items():
            n = len(got["wall"])
            if pid:
                # Mean engine CPU ms per query: the portal's query, the bare baseline.
                result["engine_cpu"][name] = (sum(got["ours"]) / n, sum(got["engine_bare"]) / n)
            result["latency"][name] = tuple(percentile(got["wall"], p) for p in (50, 95, 99))
            result["baseline"][name] = tuple(percentile(got["bare"], p) for p in (50, 95, 99))
            # CPU time of this process: for the in-process database engines, the search's
            # own cost even when other programs compete for the cores (wall time then is not).
            result["cpu"][name] = tuple(percentile(got["cpu"], p) for p in (50, 95, 99))
            result["hits"][name] = sum(got["hits"]) / n

        # Portal endpoint vs the bare call: interleaved, same queries, same process.
        client = app.test_client()
        mixed = [t for texts in queries.values() for t in texts[:30]]
        bare, endpoint = [], []
        for text in mixed:
            bare.append(timed(lambda t=text: backend.search(SearchQuery(text=t))))
            resp_time = timed(
                lambda t=text: _check(client.get("/api/v1/search", query_string={"q": t}))
            )
            endpoint.append(resp_time)
        result["bare_p50"] = statistics.median(bare)
        result["endpoint_p50"] = statistics.median(endpoint)
        result["ratio"] = result["endpoint_p50"] / result["bare_p50"]
        if not keep:
            _drop(backend)
    return result


def bare_engine_query(backend) -> Callable[[str], object]:
    """The simplest query the same engine answers for the same text: one match on the
    folded text, 20 ids, no permission filter, facets, typo expansion or snippets.

    Measured next to ``backend.search`` (interleaved) so that a loaded machine slows both:
    the portal's query is judged by its ratio to this, not by wall time alone.
    """
    from sqlalchemy import text as sql

    from portal.search.base import normalize_text

    def words(q: str) -> list[str]:
        return [w for w in re.findall(r"\w+", normalize_text(q)) if w]

    if backend.name == "elasticsearch":
        return lambda q: backend.es.search(
            index=backend.alias,
            query={"match": {"all_norm": normalize_text(q)}},
            size=20,
            _source=False,
        )
    if backend.name == "meilisearch":
        index = backend.client.index(backend.uid)
        return lambda q: index.search(q, {"limit": 20, "attributesToRetrieve": ["doc_id"]})
    if backend.engine.dialect.name == "postgresql":
        stmt = sql(
            f"SELECT doc_id FROM {backend.table}_facts"  # noqa: S608 (identifier from the backend)
            " WHERE words && CAST(:ids AS integer[]) LIMIT 20"
        )

        def postgres(q: str) -> object:
            # The words as prefixes, through the backend's term dictionary, then 20 ids.
            terms = words(q)
            if not terms:
                return []
            with backend.engine.connect() as conn:
                found = backend._dictionary(conn)
                ids = sorted({n for w in terms for n in found.prefixed(w)})
                return conn.execute(stmt, {"ids": ids}).all()

        return postgres
    stmt = sql(
        f"SELECT rowid FROM {backend.table}_words"  # noqa: S608 (identifier from the backend)
        f" WHERE {backend.table}_words MATCH :q ORDER BY rank LIMIT 20"
    )

    def sqlite(q: str) -> object:
        terms = words(q)
        if not terms:
            return []
        with backend.engine.connect() as conn:
            return conn.execute(stmt, {"q": " OR ".join(f'"{w}"*' for w in terms)}).all()

    return sqlite


def _check(resp):
    if resp.status_code != 200:
        raise SystemExit(
            f"/api/v1/search answered {resp.status_code}: {resp.get_data(as_text=True)[:300]}"
        )
    if resp.get_json().get("fallback"):
        raise SystemExit("the endpoint fell back to the database: the engine failed mid-run")
    return resp


def _drop(backend) -> None:
    """Drop the bench indexes on the engines (the database ones go with the scratch DB)."""
    if backend.name == "elasticsearch":
        found = backend.es.indices.get(index=f"{backend.alias}*", ignore_unavailable=True)
        if found:
            backend.es.indices.delete(index=",".join(found))
    elif backend.name == "meilisearch":
        backend.client.delete_index(backend.uid)


# --- output ---------------------------------------------------------------------------------


def machine() -> str:
    cores = os.cpu_count()
    try:
        mem_kb = int(
            next(ln for ln in open("/proc/meminfo") if ln.startswith("MemTotal")).split()[1]
        )
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        mem = "? GiB"
    return f"{cores} cores, {mem}, {platform.machine()}, Python {platform.python_version()}"


def print_table(results: list[dict], classes: list[str]) -> None:
    print(f"\nmachine: {machine()}  date: {datetime.now(UTC):%Y-%m-%d}")
    for r in results:
        rebuilt = (
            f"rebuild {r['rebuild_s']:.1f} s = {r['docs_per_s']:,.0f} docs/s"
            if r["rebuild_s"]
            else "index reused (--reuse)"
        )
        print(
            f"\n{r['backend']} @ {r['size']:,} docs: {rebuilt}; endpoint p50"
            f" {r['endpoint_p50']:.1f} ms vs engine call {r['bare_p50']:.1f} ms → ×{r['ratio']:.2f}"
        )
        print(
            f"  {'query class':<20}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'found':>8}"
            f"{'bare p50':>10}{'bare p95':>10}{'p95 ÷ bare':>12}"
        )
        for name in classes:
            p50, p95, p99 = r["latency"][name]
            b50, b95, _b99 = r["baseline"][name]
            print(
                f"  {name:<20}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{r['hits'][name]:>8.0%}"
                f"{b50:>10.1f}{b95:>10.1f}{p95 / max(b95, 1e-6):>11.2f}×"
            )
        if len(next(iter(r["p95_rounds"].values()), [])) > 1:
            print(f"  p95 ms in each of the {len(next(iter(r['p95_rounds'].values())))} rounds:")
            for name in classes:
                print(f"  {name:<20}" + "".join(f"{v:>9.1f}" for v in r["p95_rounds"][name]))
        print(f"  engine idle after {r['settle_s']:.0f} s")
        if r.get("engine_cpu"):
            print("  engine process CPU time per query, mean ms: portal query / bare baseline")
            for name in classes:
                ours, bare = r["engine_cpu"][name]
                print(f"  {name:<20}{ours:>9.1f}{bare:>9.1f}{ours / max(bare, 1e-6):>8.1f}×")
        if r["backend"].startswith("database"):
            print("  in-process CPU time, p50 / p95 / p99 ms:")
            for name in classes:
                print(f"  {name:<20}" + "".join(f"{v:>9.1f}" for v in r["cpu"][name]))
        if r["relevance"] is not None:
            print("  " + r["relevance"].table().replace("\n", "\n  "))


def print_markdown(results: list[dict], classes: list[str]) -> None:
    print(f"\nMachine: {machine()}. Date: {datetime.now(UTC):%Y-%m-%d}.\n")
    print("| backend | docs | rebuild docs/s | endpoint ÷ engine call (p50) |")
    print("|---|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['backend']} | {r['size']:,} | "
            + (f"{r['docs_per_s']:,.0f}" if r["rebuild_s"] else "reused")
            + " | "
            f"{r['endpoint_p50']:.1f} / {r['bare_p50']:.1f} ms = ×{r['ratio']:.2f} |"
        )
    print("\nEngine-call latency p50 / p95 / p99 in ms:\n")
    print("| backend | docs | " + " | ".join(classes) + " |")
    print("|---|---:|" + "---:|" * len(classes))
    for r in results:
        cells = ["{:.1f} / {:.1f} / {:.1f}".format(*r["latency"][name]) for name in classes]
        print(f"| {r['backend']} | {r['size']:,} | " + " | ".join(cells) + " |")
    for r in results:
        if r["backend"].startswith("database"):
            cells = ["{:.1f} / {:.1f} / {:.1f}".format(*r["cpu"][name]) for name in classes]
            print(f"| {r['backend']}, CPU time | {r['size']:,} | " + " | ".join(cells) + " |")
    print(
        "\nBare-engine baseline (one plain match, 20 ids, interleaved with the calls above),"
        " p50 / p95 ms, and the portal call's p95 ÷ the baseline's p95:\n"
    )
    print("| backend | docs | " + " | ".join(classes) + " |")
    print("|---|---:|" + "---:|" * len(classes))
    for r in results:
        cells = [
            "{:.1f} / {:.1f} (×{:.2f})".format(
                r["baseline"][name][0],
                r["baseline"][name][1],
                r["latency"][name][1] / max(r["baseline"][name][1], 1e-6),
            )
            for name in classes
        ]
        print(f"| {r['backend']} | {r['size']:,} | " + " | ".join(cells) + " |")
    if any(len(next(iter(r["p95_rounds"].values()), [])) > 1 for r in results):
        print("\np95 ms per round (min – max over the rounds):\n")
        print("| backend | docs | " + " | ".join(classes) + " |")
        print("|---|---:|" + "---:|" * len(classes))
        for r in results:
            cells = [
                f"{min(r['p95_rounds'][name]):.1f} – {max(r['p95_rounds'][name]):.1f}"
                for name in classes
            ]
            print(f"| {r['backend']} | {r['size']:,} | " + " | ".join(cells) + " |")
    if any(r.get("engine_cpu") for r in results):
        print("\nEngine process CPU time per query (mean ms, /proc), portal query / bare:\n")
        print("| backend | docs | " + " | ".join(classes) + " |")
        print("|---|---:|" + "---:|" * len(classes))
        for r in results:
            if r.get("engine_cpu"):
                cells = ["{:.1f} / {:.1f}".format(*r["engine_cpu"][name]) for name in classes]
                print(f"| {r['backend']} | {r['size']:,} | " + " | ".join(cells) + " |")
    from tests.search.relevance import LANGUAGES

    print("\nRelevance suite, MRR / recall@10:\n")
    print("| backend | queries | all | " + " | ".join(LANGUAGES) + " |")
    print("|---|---:|---:|" + "---:|" * len(LANGUAGES))
    seen = set()
    for r in results:
        report = r["relevance"]
        if report is None or r["backend"] in seen:
            continue  # the same figures at every corpus size
        seen.add(r["backend"])
        cells = [f"{report.mrr(lang):.3f} / {report.recall(lang):.3f}" for lang in LANGUAGES]
        print(
            f"| {r['backend']} | {report.count()} | {report.mrr():.3f} / {report.recall():.3f} | "
            + " | ".join(cells)
            + " |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size",
        type=int,
        action="append",
        help="corpus size (repeatable; default 10000 and 100000)",
    )
    parser.add_argument(
        "--backends",
        default="sqlite,postgres,elasticsearch,meilisearch",
        help="comma-separated subset of sqlite,postgres,elasticsearch,meilisearch",
    )
    parser.add_argument(
        "--postgres-url", help="a SCRATCH PostgreSQL database (its search tables are replaced)"
    )
    parser.add_argument(
        "--es-url", default=os.environ.get("PORTAL_TEST_ES_URL", "http://127.0.0.1:9200")
    )
    parser.add_argument(
        "--meili-url", default=os.environ.get("PORTAL_TEST_MEILI_URL", "http://127.0.0.1:7700")
    )
    parser.add_argument(
        "--meili-key",
        default=os.environ.get("PORTAL_TEST_MEILI_KEY", "portal-dev-master-key-0123456789"),
    )
    parser.add_argument("--queries", type=int, default=QUERIES_PER_CLASS, help="queries per class")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every class this many times (fresh class order each round); the spread"
        " of p95 over the rounds is printed",
    )
    parser.add_argument(
        "--markdown", action="store_true", help="also print rows for docs/benchmarks.md"
    )
    parser.add_argument(
        "--rebuild-only",
        type=int,
        metavar="N",
        default=0,
        help="only measure the rebuild, N times per backend and size (no relevance, no queries)",
    )
    parser.add_argument(
        "--index-prefix",
        help="index prefix on the engines (default bench<pid>); with --keep / --reuse, the"
        " same name in both runs",
    )
    parser.add_argument(
        "--keep", action="store_true", help="leave the engine index in place after the run"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="query the index a --keep run left (same --index-prefix and --size): no relevance"
        " suite, no rebuild",
    )
    parser.add_argument(
        "--drop",
        action="store_true",
        help="only drop the engine indexes under --index-prefix (after --keep runs)",
    )
    args = parser.parse_args(argv)
    if (args.keep or args.reuse or args.drop) and not args.index_prefix:
        parser.error("--keep, --reuse and --drop need --index-prefix (bench…)")
    if args.index_prefix and not args.index_prefix.startswith("bench"):
        parser.error("--index-prefix must start with 'bench' (the engines are shared)")

    sizes = args.size or [10_000, 100_000]
    wanted = [b.strip() for b in args.backends.split(",") if b.strip()]
    scratch = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    targets: list[tuple[str, str, str]] = []  # label, database url, search url
    for name in wanted:
        if name == "sqlite":
            targets.append(
                ("database (SQLite FTS5)", f"sqlite:///{scratch / 'bench.db'}", "database")
            )
        elif name == "postgres":
            if not args.postgres_url:
                print("postgres: skipped (no --postgres-url given)", file=sys.stderr)
                continue
            targets.append(("database (PostgreSQL)", args.postgres_url, "database"))
        elif name == "elasticsearch":
            targets.append(
                ("elasticsearch", f"sqlite:///{scratch / 'es.db'}", f"elasticsearch+{args.es_url}")
            )
        elif name == "meilisearch":
            targets.append(
                (
                    "meilisearch",
                    f"sqlite:///{scratch / 'meili.db'}",
                    f"meilisearch+{args.meili_url}?key={args.meili_key}",
                )
            )
        else:
            parser.error(f"unknown backend {name!r}")

    queries = query_classes(random.Random(SEED + 1), args.queries)
    results = []
    summary: list[str] = []
    for size in sizes:
        # Materialise the corpus once per size so generation is not timed (too big to hold: stream).
        docs = list(corpus(size)) if size < 500_000 and not (args.reuse or args.drop) else None
        for label, database_url, search_url in targets:
            print(f"… {label} @ {size:,} docs", file=sys.stderr, flush=True)
            app = make_app(database_url, search_url, args.index_prefix)
            if args.drop:
                from portal.search.registry import get_backend

                with app.app_context():
                    _drop(get_backend(app))
                print(f"dropped the {label} indexes of {args.index_prefix}")
                continue
            if args.rebuild_only:
                rebuilt = bench_rebuild(label, app, docs, size, args.rebuild_only)
                rates = [rate for rate, _load in rebuilt["rates"]]
                summary.append(
                    f"{label} @ {size:,}: rebuild docs/s median {statistics.median(rates):,.0f}"
                    f" (runs: {', '.join(f'{r:,.0f}' for r in rates)}; load average"
                    f" {', '.join(f'{load:.1f}' for _r, load in rebuilt['rates'])})"
                )
                continue
            results.append(
                bench_backend(
                    label,
                    app,
                    docs,
                    size,
                    queries,
                    args.rounds,
                    keep=args.keep,
                    reuse=args.reuse,
                )
            )
            print_table(results[-1:], list(queries))
    if args.drop:
        return 0
    if args.rebuild_only:
        print(f"\nmachine: {machine()}  date: {datetime.now(UTC):%Y-%m-%d}")
        print("\n".join(summary))
        return 0
    print_table(results, list(queries))
    if args.markdown:
        print_markdown(results, list(queries))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
