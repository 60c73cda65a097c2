"""``/api/v1/docs``: the OpenAPI document as a page, rendered on the server.

No Swagger UI or ReDoc bundle: the page is read from the generated document itself, so it
cannot drift from ``openapi.json``; it works offline, without JavaScript, at 320 px and
right-to-left like every other page. The interface around it is translated; the reference
text (summaries, descriptions, field notes) is the document's, in English.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from portal.api.openapi import document
from portal.consultations.minutes_render import render_markdown

METHOD_ORDER = {"get": 0, "post": 1, "put": 2, "patch": 3, "delete": 4}
ENUM_INLINE = 12  # longer enumerations are folded behind a <details>


@dataclass
class FieldDoc:
    name: str
    type: str
    required: bool
    description: str
    enum: list[str] = field(default_factory=list)
    ref: str | None = None
    location: str | None = None


@dataclass
class OperationDoc:
    id: str
    method: str
    path: str
    summary: str
    description: Markup
    parameters: list[FieldDoc]
    body: str | None
    responses: list[tuple[str, str, str | None]]  # status, description, schema name
    auth_required: bool


@dataclass
class TagDoc:
    name: str
    description: str
    operations: list[OperationDoc] = field(default_factory=list)


@dataclass
class SchemaDoc:
    name: str
    description: str
    fields: list[FieldDoc]
    enum: list[str] = field(default_factory=list)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_label(schema: dict[str, Any]) -> tuple[str, str | None]:
    """A short type for a table cell (``string``, ``integer ≥ 1``, ``array of Agreement``)
    and the schema it links to, if any."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return name, name
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [type_label(s) for s in schema[key]]
            ref = next((r for _t, r in parts if r), None)
            return " | ".join(t for t, _r in parts), ref
    kind = schema.get("type", "object" if "properties" in schema else "any")
    if kind == "array":
        inner, ref = type_label(schema.get("items", {}))
        return f"array of {inner}", ref
    if kind == "object" and "additionalProperties" in schema and not schema.get("properties"):
        extra = schema["additionalProperties"]
        if isinstance(extra, dict):
            inner, ref = type_label(extra)
            return f"map of {inner}", ref
    details = []
    if "format" in schema:
        details.append(schema["format"])
    if "minimum" in schema:
        details.append(f"≥ {schema['minimum']}")
    if "maximum" in schema:
        details.append(f"≤ {schema['maximum']}")
    if "maxLength" in schema:
        details.append(f"≤ {schema['maxLength']} chars")
    if "pattern" in schema:
        details.append(f"pattern {schema['pattern']}")
    label = str(kind) + (f" ({', '.join(details)})" if details else "")
    return label, None


def _enum_of(schema: dict[str, Any], components: dict[str, Any]) -> list[str]:
    if "enum" in schema:
        return [str(v) for v in schema["enum"]]
    if "$ref" in schema:
        return _enum_of(components.get(_ref_name(schema["$ref"]), {}), components)
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key, []):
            values = _enum_of(option, components)
            if values:
                return values
    if schema.get("type") == "array":
        return _enum_of(schema.get("items", {}), components)
    return []


def _field(name, schema, required, components, location=None) -> FieldDoc:
    label, ref = type_label(schema)
    enum = _enum_of(schema, components)
    if enum and ref and components.get(ref, {}).get("enum"):
        ref = None  # an enumeration is listed in place, not linked
    return FieldDoc(
        name=name,
        type=label,
        required=required,
        description=schema.get("description", ""),
        enum=enum,
        ref=ref,
        location=location,
    )


def docs_context() -> dict[str, Any]:
    spec = document()
    components = spec.get("components", {}).get("schemas", {})
    tags = {t["name"]: TagDoc(t["name"], t.get("description", "")) for t in spec.get("tags", [])}
    for path, operations in spec["paths"].items():
        for method, op in sorted(operations.items(), key=lambda kv: METHOD_ORDER.get(kv[0], 9)):
            params = [
                _field(
                    p["name"], p.get("schema", {}), p.get("required", False), components, p["in"]
                )
                for p in op.get("parameters", [])
            ]
            body = None
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                body = _ref_name(content["application/json"]["schema"].get("$ref", ""))
            responses = []
            for status, answer in sorted(op.get("responses", {}).items()):
                schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
                responses.append(
                    (
                        status,
                        answer.get("description", ""),
                        type_label(schema)[1] if schema else None,
                    )
                )
            security = op.get("security", spec.get("security", []))
            doc = OperationDoc(
                id=op.get("operationId", f"{method}-{path}"),
                method=method.upper(),
                path=path,
                summary=op.get("summary", ""),
                description=render_markdown(op.get("description", "")),
                parameters=params,
                body=body,
                responses=responses,
                auth_required=bool(security) and {} not in security,
            )
            tag = (op.get("tags") or ["Other"])[0]
            tags.setdefault(tag, TagDoc(tag, "")).operations.append(doc)
    schemas = []
    for name in sorted(components):
        schema = components[name]
        required = set(schema.get("required", []))
        schemas.append(
            SchemaDoc(
                name=name,
                description=schema.get("description", ""),
                fields=[
                    _field(prop, sub, prop in required, components)
                    for prop, sub in schema.get("properties", {}).items()
                ],
                enum=[str(v) for v in schema.get("enum", [])],
            )
        )
    return {
        "info": spec["info"],
        "intro": render_markdown(spec["info"].get("description", "")),
        "openapi_version": spec["openapi"],
        "tags": [t for t in tags.values() if t.operations],
        "schemas": schemas,
        "enum_inline": ENUM_INLINE,
    }
