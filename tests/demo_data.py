"""The demo data set for test modules that read many pages (accessibility, interface language).

Loaded once per module instead of once per test; afterwards every table is emptied again and
the search index rebuilt from the empty database, so no demo record is left for later tests.
"""

from __future__ import annotations

from portal.extensions import db


def load_demo(app) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    # The search index catches up through the outbox; sync now so search has results.
    result = runner.invoke(args=["search", "sync"])
    assert result.exit_code == 0, result.output


def clear_demo(app) -> None:
    from portal.extensions import limiter
    from tests.conftest import _empty_tables

    with app.app_context():
        db.session.remove()
        _empty_tables()
        result = app.test_cli_runner().invoke(args=["search", "rebuild"])
        assert result.exit_code == 0, result.output
        db.session.remove()
    limiter.reset()
