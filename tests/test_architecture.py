"""The structure rules of docs/architecture.md, checked on every run (issue 9).

* ``portal.core`` imports nothing from a domain package: domains register into core.
* No import cycles between modules of ``portal`` (imports inside functions count: a cycle
  hidden in a function is still a cycle a reader has to untangle).
* One transaction boundary: no ``commit()`` in views, services or models.
* One guard: no role checks (``current_user.is_staff``, ``.role == …``) outside the
  ``permissions.py`` modules and the guard — in Python and in templates.

The import graph comes from grimp (the library behind import-linter); it reads the source and
imports nothing, so these tests need no app and no database.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ROOT / "portal"
TEMPLATES = ROOT / "templates"

# Modules of portal that are not a domain: core may import these.
NOT_DOMAINS = {"portal.core", "portal.extensions", "portal.config"}

# Import cycles that other work in progress removes; each entry is one import (importer,
# imported) that closes a cycle. Remove an entry when its cycle is gone — the test then keeps
# it gone. Keep this list short and say who removes each.
ALLOWED_CYCLE_EDGES: set[tuple[str, str]] = set()


@cache
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("portal", exclude_type_checking_imports=True, cache_dir=None)


def _is_domain(module: str) -> bool:
    return module != "portal" and not any(
        module == base or module.startswith(base + ".") for base in NOT_DOMAINS
    )


def test_core_imports_no_domain():
    g = graph()
    offending = []
    for module in sorted(m for m in g.modules if m.startswith("portal.core")):
        for imported in sorted(g.find_modules_directly_imported_by(module)):
            if imported == "portal" or _is_domain(imported):
                details = g.get_import_details(importer=module, imported=imported)
                lines = ", ".join(str(d["line_number"]) for d in details)
                offending.append(f"{module} (line {lines}) imports {imported}")
    assert not offending, "portal.core must not import a domain:\n" + "\n".join(offending)


def test_core_reaches_no_domain_indirectly():
    """Not even through portal.extensions or portal.config."""
    g = graph()
    domains = sorted(
        {".".join(m.split(".")[:2]) for m in g.modules if m.count(".") >= 1 and _is_domain(m)}
    )
    reached = [
        d for d in domains if g.chain_exists(importer="portal.core", imported=d, as_packages=True)
    ]
    assert not reached, f"portal.core reaches {reached}"


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def import_cycles(allowed: set[tuple[str, str]]) -> list[list[str]]:
    g = graph()
    edges = {
        m: {i for i in g.find_modules_directly_imported_by(m) if (m, i) not in allowed}
        for m in g.modules
    }
    return _strongly_connected(edges)


def test_cycle_finder_finds_a_cycle_and_only_the_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _strongly_connected(edges) == [["a", "b", "c"]]
    assert _strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    g = graph()
    cycles = import_cycles(ALLOWED_CYCLE_EDGES)
    report = []
    for group in cycles:
        members = set(group)
        report.append(" ↔ ".join(group))
        for module in group:
            for imported in sorted(g.find_modules_directly_imported_by(module) & members):
                report.append(f"    {module} → {imported}")
    assert not cycles, "import cycles in portal:\n" + "\n".join(report)


# --- grep facts ----------------------------------------------------------------------------


def _python_files() -> list[Path]:
    return sorted(p for p in PORTAL.rglob("*.py") if "translations" not in p.parts)


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _defines_routes(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(target, ast.Attribute) and target.attr in {
                    "route",
                    "get",
                    "post",
                    "put",
                    "patch",
                    "delete",
                }:
                    return True
    return False


_BOUNDARY_NAMES = re.compile(r"^(.*_)?(views|services|models)\.py$")


def _boundary_files() -> list[Path]:
    """Views (by name, or any module that registers routes), services and models."""
    return [
        p for p in _python_files() if _BOUNDARY_NAMES.match(p.name) or _defines_routes(_tree(p))
    ]


def _commit_calls(path: Path) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    ]


def test_the_commit_finder_sees_views_and_commits(tmp_path):
    sample = tmp_path / "sample_views.py"
    sample.write_text(
        "@bp.route('/')\ndef home():\n    db.session.commit()  # not here\n", encoding="utf-8"
    )
    tree = ast.parse(sample.read_text())
    assert _defines_routes(tree)
    assert _commit_calls(sample) == [3]


def test_no_commit_in_views_services_or_models():
    found = [
        f"{_relative(path)}:{line}" for path in _boundary_files() for line in _commit_calls(path)
    ]
    assert not found, "commit() belongs to the transaction boundary only:\n" + "\n".join(found)


# Where role checks may live: the rules, and the guard that asks them.
_ROLE_RULE_FILES = re.compile(r"(^|/)([a-z_]*permissions\.py|core/guard\.py)$")
_ROLE_ATTRIBUTES = {"is_staff", "is_admin"}
_TEMPLATE_ROLE_CHECK = re.compile(
    r"\.(is_staff|is_admin)\b"
    r"|\.role\s*(==|!=)\s*[\"'](staff|admin)[\"']"
    r"|\.role\s+(not\s+)?in\s+[(\[][^)\]]*[\"'](staff|admin)[\"']"
)


_ACCOUNT_ROLES = {"admin", "staff"}


def _names_an_account_role(node: ast.AST) -> bool:
    """``Role.ADMIN``/``Role.STAFF`` (or their values), or the literal "admin"/"staff"."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and sub.attr in {"ADMIN", "STAFF"}:
            return True
        if isinstance(sub, ast.Constant) and sub.value in _ACCOUNT_ROLES:
            return True
    return False


def _role_checks(path: Path) -> list[int]:
    """Lines asking an account's role: ``x.is_staff``, ``x.is_admin``, ``getattr(x,
    "is_staff")``, or ``x.role`` compared with the staff/admin roles. Asking the rules module
    (``permissions.is_staff(user)``) is the point, not a violation; other ``role`` columns (a
    party's role in an agreement, a member's role in a group) are data, not access."""
    lines = []
    for node in ast.walk(_tree(path)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in _ROLE_ATTRIBUTES
            and isinstance(node.ctx, ast.Load)
            and not (isinstance(node.value, ast.Name) and node.value.id.endswith("permissions"))
        ):
            lines.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "hasattr"}
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in _ROLE_ATTRIBUTES
        ):
            lines.append(node.lineno)
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Attribute) and s.attr == "role" for s in sides) and any(
                _names_an_account_role(s) for s in sides
            ):
                lines.append(node.lineno)
    return sorted(set(lines))


def test_the_role_check_finder_sees_role_checks(tmp_path):
    sample = tmp_path / "views.py"
    sample.write_text(
        "if current_user.is_staff:\n    pass\nok = user.role == 'admin'\nuser.role = 'staff'\n"
        "staff = getattr(user, 'is_admin', False)\nfunder = party.role == 'funding'\n"
        "rule = permissions.is_staff(user)\n",
        encoding="utf-8",
    )
    _tree.cache_clear()
    # Line 4 assigns, line 6 compares a party's role, line 7 asks the rules: none is a check.
    assert _role_checks(sample) == [1, 3, 5]
    assert _TEMPLATE_ROLE_CHECK.search("{% if current_user.is_staff %}")
    assert _TEMPLATE_ROLE_CHECK.search("{% if user.role == 'admin' %}")
    assert _TEMPLATE_ROLE_CHECK.search("{% if user.role in ('staff', 'admin') %}")
    assert not _TEMPLATE_ROLE_CHECK.search('{{ can("staff") }}')
    assert not _TEMPLATE_ROLE_CHECK.search("{% if filters.role == r %}selected{% endif %}")


def test_no_role_checks_outside_permissions():
    found = [
        f"{_relative(path)}:{line}"
        for path in _python_files()
        if not _ROLE_RULE_FILES.search(_relative(path))
        for line in _role_checks(path)
    ]
    for template in sorted(TEMPLATES.rglob("*")):
        if template.suffix not in {".html", ".txt", ".xml", ".ics"}:
            continue
        for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), 1):
            if _TEMPLATE_ROLE_CHECK.search(line):
                found.append(f"{_relative(template)}:{number}")
    assert not found, "ask a permission (can/ensure/require), not a role:\n" + "\n".join(found)
