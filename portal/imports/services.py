"""Bulk import use cases: read → validate everything → (only if all valid) write + audit.

Used by the CLI (``flask import …``) and the staff upload page alike. Nothing commits here;
the caller commits once, so an import is all-or-nothing (DESIGN §7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from portal.core.audit import record_audit
from portal.imports.reading import (
    ImportFileError,
    Sheet,
    default_locale_outside_requests,
    read_sheet,
)
from portal.imports.validation import (
    AGREEMENTS,
    ORGANIZATIONS,
    ImportPlan,
    Lookups,
    validate_agreements,
    validate_organizations,
)
from portal.imports.writing import write_agreements, write_organizations

# Given a phase label and the number of rows, returns a per-row "advance" callback (or None).
ProgressFactory = Callable[[str, int], Callable[[int], None] | None]

__all__ = ["ImportFileError", "ImportRun", "plan_import", "execute_import", "read_sheet"]


@dataclass
class ImportRun:
    """Everything one command or upload will import; organisations are written first."""

    plans: list[ImportPlan] = field(default_factory=list)
    lookups: Lookups | None = None

    @property
    def is_valid(self) -> bool:
        return all(p.is_valid for p in self.plans)

    def plan(self, kind: str) -> ImportPlan | None:
        return next((p for p in self.plans if p.kind == kind), None)


def _advance(progress: ProgressFactory | None, label: str, total: int):
    return progress(label, total) if progress else None


def plan_import(
    sheets: dict[str, tuple[str, Sheet]], *, progress: ProgressFactory | None = None
) -> ImportRun:
    """Validate the given sheets ({kind: (filename, sheet)}) together.

    Agreements may name organisations from the organisations sheet of the same run.
    """
    with default_locale_outside_requests():
        return _plan_import(sheets, progress)


def _plan_import(
    sheets: dict[str, tuple[str, Sheet]], progress: ProgressFactory | None
) -> ImportRun:
    lookups = Lookups()
    run = ImportRun(lookups=lookups)
    org_plan = None
    if ORGANIZATIONS in sheets:
        filename, sheet = sheets[ORGANIZATIONS]
        org_plan = validate_organizations(
            sheet, filename, lookups, _advance(progress, f"Validating {filename}", len(sheet.rows))
        )
        run.plans.append(org_plan)
    if AGREEMENTS in sheets:
        filename, sheet = sheets[AGREEMENTS]
        run.plans.append(
            validate_agreements(
                sheet,
                filename,
                lookups,
                org_plan,
                _advance(progress, f"Validating {filename}", len(sheet.rows)),
            )
        )
    return run


def execute_import(
    run: ImportRun, *, actor_id: int | None = None, progress: ProgressFactory | None = None
) -> dict[str, dict[str, int]]:
    """Write a fully valid run and record one audit entry for it. Returns counts per kind."""
    if not run.is_valid or run.lookups is None:
        raise ValueError("refusing to write an import that has errors")
    org_ids: dict = {}
    counts: dict[str, dict[str, int]] = {}
    for plan in run.plans:
        advance = _advance(progress, f"Writing {plan.filename}", len(plan.rows))
        if plan.kind == ORGANIZATIONS:
            org_ids = write_organizations(plan, run.lookups, advance)
        else:
            write_agreements(plan, run.lookups, org_ids, advance)
        counts[plan.kind] = plan.counts
    summary = "; ".join(
        f"{plan.kind} from {plan.filename}: {c['create']} created, {c['update']} updated, "
        f"{c['unchanged']} unchanged"
        for plan in run.plans
        for c in [plan.counts]
    )
    record_audit(
        "import",
        "import",
        summary=f"Bulk import — {summary}",
        after={
            "files": {plan.kind: plan.filename for plan in run.plans},
            "counts": counts,
        },
        actor_id=actor_id,
    )
    return counts
