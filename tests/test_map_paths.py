"""The map's outlines are written compactly (relative moves, no needless separators): the
shapes a reader sees must be exactly the file's, point for point."""

from __future__ import annotations

import json
import re

from portal.insights.charts import MAP_FILE, compact_path, world_shapes

NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)")


def _absolute_points(d: str) -> list[list[tuple[int, int]]]:
    """Each subpath's points in tenths, read as an SVG parser reads the path: commands with
    implicit repetition, relative or absolute, numbers split at a sign or a second point."""
    subpaths: list[list[tuple[int, int]]] = []
    x = y = 0
    start = (0, 0)
    for command, args in re.findall(r"([MLZmlz])([^MLZmlz]*)", d):
        if command in "Zz":
            x, y = start
            continue
        numbers = [round(float(n) * 10) for n in NUMBER.findall(args)]
        assert len(numbers) % 2 == 0, (command, args)
        for i in range(0, len(numbers), 2):
            a, b = numbers[i], numbers[i + 1]
            x, y = (x + a, y + b) if command.islower() else (a, b)
            if command in "Mm" and i == 0:
                start = (x, y)
                subpaths.append([])
            subpaths[-1].append((x, y))
    return subpaths


def test_every_outline_keeps_every_point_and_is_shorter():
    source = json.loads(MAP_FILE.read_text(encoding="utf-8"))["countries"]
    compact = world_shapes()["countries"]
    assert len(source) == len(compact) > 150
    for original, shown in zip(source, compact, strict=True):
        assert _absolute_points(shown["d"]) == _absolute_points(original["d"]), original["name"]
    before = sum(len(c["d"]) for c in source)
    after = sum(len(c["d"]) for c in compact)
    assert after < 0.65 * before


def test_numbers_that_need_a_separator_get_one():
    # After "m", more pairs are lines. .5 after 1 (no point yet) needs a space; .5 after 1.5
    # does not; a minus never does.
    assert compact_path("M1 1L2 1.5L2.5 1.5L2 1Z") == "m1 1 1 .5.5 0-.5-.5z"
    assert _absolute_points(compact_path("M10 10L10.5 10L10 10.5ZM20 20L21 20Z")) == [
        [(100, 100), (105, 100), (100, 105)],
        [(200, 200), (210, 200)],
    ]
