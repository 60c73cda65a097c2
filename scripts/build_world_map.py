#!/usr/bin/env python3
"""Turn Natural Earth 1:110m country boundaries into the portal's vendored world map.

Input: the npm package ``world-atlas`` (TopoJSON of Natural Earth Admin 0 countries, 1:110m;
Natural Earth is public domain, the package is ISC-licensed). Fetch it once with

    npm pack world-atlas@2.0.2    # the script checks the tarball's sha256
    .venv/bin/python scripts/build_world_map.py world-atlas-2.0.2.tgz

and commit the result, ``portal/insights/data/world-110m.json``. The portal never reads the
TopoJSON at run time: this script decodes the topology, projects every ring with the Equal
Earth projection (equal-area, so a choropleth does not exaggerate high latitudes), rounds to
a tenth of a unit and writes one SVG path per country keyed by its ISO 3166 numeric code.
Antarctica is left out (no partnership work there; it would take a fifth of the height).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "portal" / "insights" / "data" / "world-110m.json"
MEMBER = "package/countries-110m.json"
EXPECTED_SHA256 = "032e7765f2ce00edaeafec23ff22bc3b77e42987c257da944cc585b452c05b97"
WIDTH = 1000.0  # viewBox width; the height follows from the projection
SKIP = {"010"}  # Antarctica

# Equal Earth (Šavrič, Patterson, Jenny 2018).
A1, A2, A3, A4 = 1.340264, -0.081106, 0.000893, 0.003796
M = math.sqrt(3) / 2
X_MAX = math.pi / (M * A1)  # |x| at the equator, longitude 180°


def equal_earth(lon: float, lat: float) -> tuple[float, float]:
    lam, phi = math.radians(lon), math.radians(lat)
    theta = math.asin(M * math.sin(phi))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = lam * math.cos(theta) / (M * (A1 + 3 * A2 * t2 + t6 * (7 * A3 + 9 * A4 * t2)))
    y = theta * (A1 + A2 * t2 + t6 * (A3 + A4 * t2))
    return x, y


def decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring_points(ring: list[int], arcs) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for index in ring:
        arc = arcs[index] if index >= 0 else list(reversed(arcs[~index]))
        points.extend(arc[1:] if points else arc)
    return points


def unwrap(points: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """A ring that crosses the antimeridian (Fiji, Chukotka) jumps from +180 to -180. Draw it
    twice, once continued east of +180 and once west of -180; the map's view box clips what
    falls outside, so each side of the line shows its own part and no stripe crosses the map."""
    jumps = any(abs(b[0] - a[0]) > 180 for a, b in zip(points, points[1:], strict=False))
    if not jumps:
        return [points]
    east = [(lon + 360 if lon < 0 else lon, lat) for lon, lat in points]
    west = [(lon - 360 if lon > 0 else lon, lat) for lon, lat in points]
    return [east, west]


def polygons_of(geometry: dict) -> list[list[list[int]]]:
    if geometry["type"] == "Polygon":
        return [geometry["arcs"]]
    if geometry["type"] == "MultiPolygon":
        return geometry["arcs"]
    return []


def build(topology: dict) -> dict:
    arcs = decode_arcs(topology)
    scale = WIDTH / (2 * X_MAX)
    projected: list[tuple[str | None, str, list[list[tuple[float, float]]]]] = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        code = geometry.get("id")
        if code in SKIP:
            continue
        rings = []
        for polygon in polygons_of(geometry):
            for ring in polygon:
                for lonlat in unwrap(ring_points(ring, arcs)):
                    rings.append(
                        [
                            (x * scale + WIDTH / 2, -y * scale)
                            for x, y in (equal_earth(lon, lat) for lon, lat in lonlat)
                        ]
                    )
        projected.append((code, geometry["properties"]["name"], rings))
    top = min(y for _c, _n, rings in projected for ring in rings for _x, y in ring)
    bottom = max(y for _c, _n, rings in projected for ring in rings for _x, y in ring)
    margin = 4.0
    countries = []
    for code, name, rings in projected:
        parts, xs, ys = [], [], []
        main: tuple[float, list[float]] = (-1.0, [])  # the largest ring: the map zooms to it
        for ring in rings:
            shifted = [(round(x, 1), round(y - top + margin, 1)) for x, y in ring]
            cleaned = [p for i, p in enumerate(shifted) if i == 0 or p != shifted[i - 1]]
            if len(cleaned) < 3:
                continue
            inside = [(x, y) for x, y in cleaned if 0 <= x <= WIDTH]
            if not inside:
                continue
            rx = [x for x, _y in inside]
            ry = [y for _x, y in inside]
            xs.extend(rx)
            ys.extend(ry)
            area = abs(
                sum(
                    a[0] * b[1] - b[0] * a[1]
                    for a, b in zip(inside, inside[1:] + inside[:1], strict=True)
                )
            )
            if area > main[0]:
                main = (area, [min(rx), min(ry), max(rx), max(ry)])
            head, *tail = cleaned
            parts.append(
                f"M{head[0]:g} {head[1]:g}" + "".join(f"L{x:g} {y:g}" for x, y in tail) + "Z"
            )
        if not parts:
            continue
        countries.append(
            {
                "numeric": code,  # ISO 3166-1 numeric; null for areas without one (Kosovo …)
                "name": name,
                "d": "".join(parts),
                "bbox": [min(xs), min(ys), max(xs), max(ys)],
                # The main landmass only (France without French Guiana, the USA without
                # Alaska), so that zooming to a region does not take in another continent.
                "main_bbox": main[1],
            }
        )
    countries.sort(key=lambda c: (c["numeric"] or "zzz", c["name"]))
    return {
        "source": "Natural Earth 1:110m Admin 0 countries v4.1.0, via the npm package "
        "world-atlas 2.0.2 (ISC); Natural Earth is in the public domain.",
        "projection": "Equal Earth",
        "width": WIDTH,
        "height": round(bottom - top + 2 * margin, 1),
        "countries": countries,
    }


def read_topology(path: Path) -> dict:
    data = path.read_bytes()
    if path.suffix in (".tgz", ".gz"):
        digest = hashlib.sha256(data).hexdigest()
        if digest != EXPECTED_SHA256:
            sys.exit(f"checksum mismatch for {path}: {digest}")
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            member = archive.extractfile(MEMBER)
            if member is None:
                sys.exit(f"{MEMBER} not found in {path}")
            return json.load(member)
    return json.loads(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="world-atlas-2.0.2.tgz or countries-110m.json")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    result = build(read_topology(args.source))
    args.output.write_text(json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n")
    size = args.output.stat().st_size
    print(f"{len(result['countries'])} countries, {size:,} bytes → {args.output}")


if __name__ == "__main__":
    main()
