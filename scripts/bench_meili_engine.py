"""Meilisearch's indexing rate alone: the payloads are made first, then sent.

    .venv/bin/python scripts/bench_meili_engine.py --meili-url http://127.0.0.1:7717 \\
        --size 100000 --rounds 3

For every round and layout (interleaved, order reversed every other round): a fresh index
with the portal's settings, the engine left idle, then every batch of the benchmark corpus
(scripts/bench_search.py) sent at once. Prints docs/s from the first send until the last
task succeeded, the engine's CPU seconds (/proc/<pid>/stat, so it must run on this machine)
and the load average before; then the median per layout.

Layouts: ``current`` is the backend's ``_to_document``; ``every-word`` is the layout before
issue 17's fifth session (``text`` with every word as often as the body has it, the stems
fields with the words that are their own stem), to measure what the engine saves.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_search  # noqa: E402
import requests  # noqa: E402

from portal.search.analysis import stems_of  # noqa: E402
from portal.search.backends import meilisearch as meili  # noqa: E402
from portal.search.backends._engine import cjk_unigrams  # noqa: E402
from portal.search.base import normalize_text  # noqa: E402


def every_word(doc) -> dict:
    document = meili._to_document(doc)
    body_norm = normalize_text(doc.matched_body)
    document["text"] = cjk_unigrams(body_norm)
    document["stems"] = stems_of(body_norm, unchanged=True)
    document["title_stems"] = stems_of(normalize_text(doc.title), unchanged=True)
    return document


LAYOUTS = {"current": meili._to_document, "every-word": every_word}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meili-url", default="http://127.0.0.1:7700")
    parser.add_argument("--meili-key", default="portal-dev-master-key-0123456789")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--layouts", default="every-word,current")
    args = parser.parse_args(argv)
    layouts = args.layouts.split(",")
    unknown = set(layouts) - set(LAYOUTS)
    if unknown:
        parser.error(f"unknown layouts: {', '.join(sorted(unknown))}")
    url = args.meili_url.rstrip("/")
    headers = {"Authorization": f"Bearer {args.meili_key}", "Content-Type": "application/json"}
    pid = bench_search.engine_pid(url)
    if pid is None:
        parser.error(f"no Meilisearch process listening at {url} on this machine")

    def call(method: str, path: str, **kw) -> dict:
        response = requests.request(method, f"{url}{path}", headers=headers, timeout=60, **kw)
        response.raise_for_status()
        return response.json()

    def wait(task_uid: int) -> dict:
        while True:
            task = call("GET", f"/tasks/{task_uid}")
            if task["status"] in ("succeeded", "failed", "canceled"):
                return task
            time.sleep(0.2)

    docs = list(bench_search.corpus(args.size))
    payloads: dict[str, list[bytes]] = {}
    for name in layouts:
        started = time.process_time()
        documents = [LAYOUTS[name](d) for d in docs]
        made = time.process_time()
        payloads[name] = [
            json.dumps(
                documents[i : i + meili.BATCH], ensure_ascii=False, separators=(",", ":")
            ).encode()
            for i in range(0, len(documents), meili.BATCH)
        ]
        print(
            f"{name}: client CPU {made - started:.1f} s documents,"
            f" {time.process_time() - made:.1f} s JSON,"
            f" {sum(map(len, payloads[name])) / 1e6:.0f} MB",
            flush=True,
        )

    rates: dict[str, list[float]] = {name: [] for name in layouts}
    for round_ in range(args.rounds):
        for name in layouts if round_ % 2 == 0 else layouts[::-1]:
            uid = f"bench_meili_engine_{name.replace('-', '_')}"
            if _exists(url, headers, uid):  # left by an interrupted run
                wait(call("DELETE", f"/indexes/{uid}")["taskUid"])
            wait(call("POST", "/indexes", json={"uid": uid, "primaryKey": "pk"})["taskUid"])
            wait(call("PATCH", f"/indexes/{uid}/settings", json=meili.SETTINGS)["taskUid"])
            bench_search.settle(pid)
            load = os.getloadavg()[0]
            cpu_before = bench_search.cpu_ms(pid)
            started = time.perf_counter()
            tasks = [
                call("POST", f"/indexes/{uid}/documents?primaryKey=pk", data=body)["taskUid"]
                for body in payloads[name]
            ]
            failed = [t for t in map(wait, tasks) if t["status"] != "succeeded"]
            elapsed = time.perf_counter() - started
            cpu = (bench_search.cpu_ms(pid) - cpu_before) / 1000
            wait(call("DELETE", f"/indexes/{uid}")["taskUid"])
            if failed:
                print(f"{name}: task failed: {failed[0].get('error')}", file=sys.stderr)
                return 1
            rates[name].append(args.size / elapsed)
            print(
                f"round {round_ + 1} {name:10s} {args.size / elapsed:7,.0f} docs/s"
                f"  {elapsed:5.1f} s  engine CPU {cpu:5.1f} s  load average {load:.2f} before",
                flush=True,
            )
    for name, values in rates.items():
        runs = " / ".join(f"{v:,.0f}" for v in values)
        print(f"{name}: median {statistics.median(values):,.0f} docs/s (runs: {runs})")
    if {"every-word", "current"} <= set(rates):
        ratio = statistics.median(rates["current"]) / statistics.median(rates["every-word"])
        print(f"current / every-word: ×{ratio:.2f}")
    return 0


def _exists(url: str, headers: dict, uid: str) -> bool:
    return requests.get(f"{url}/indexes/{uid}", headers=headers, timeout=10).status_code == 200


if __name__ == "__main__":
    raise SystemExit(main())
