"""``render_kept``: a page part kept for every reader of a class (issue 17, kept fragments).

The part is rendered once per snapshot, reader class, language and scope — its context is only
made then — and it must never carry what belongs to one reader: the current user in its
context, or this request's CSP nonce or CSRF token in its text (another reader would be served
them from the kept copy)."""

from __future__ import annotations

import pytest
from flask_login import current_user
from jinja2 import ChoiceLoader, DictLoader
from markupsafe import Markup

from portal.agreements import catalogue_index
from portal.agreements.catalogue_index import NotShared, render_kept

TEMPLATES = {
    "kept-test/_shared.html": "<p>{{ title }}</p>",
    "kept-test/_nonce.html": '<script nonce="{{ csp_nonce() }}"></script>',
    "kept-test/_csrf.html": '<input name="csrf_token" value="{{ csrf_token() }}">',
}


@pytest.fixture
def kept_templates(app, monkeypatch):
    monkeypatch.setattr(
        app, "jinja_loader", ChoiceLoader([DictLoader(TEMPLATES), app.jinja_loader])
    )
    return app


def test_render_kept_makes_its_context_once_and_refuses_what_belongs_to_one_reader(
    kept_templates,
):
    app = kept_templates
    made = []

    def context() -> dict:
        made.append(len(made))
        return {"title": "Shared <part>"}

    with app.test_request_context("/"):
        assert catalogue_index.snapshot() is not None  # the part is kept, not made each time
        first = render_kept("kept-test", (1,), "kept-test/_shared.html", context)
    with app.test_request_context("/"):
        again = render_kept("kept-test", (1,), "kept-test/_shared.html", context)
        other_scope = render_kept("kept-test", (2,), "kept-test/_shared.html", context)
    assert first == again == other_scope == Markup("<p>Shared &lt;part&gt;</p>")
    assert made == [0, 1]  # once for scope 1, once for scope 2

    with app.test_request_context("/"):
        with pytest.raises(NotShared, match="current user"):
            render_kept(
                "kept-test-user",
                (),
                "kept-test/_shared.html",
                lambda: {"title": "x", "viewer": current_user._get_current_object()},
            )
        with pytest.raises(NotShared, match="CSP nonce"):
            render_kept("kept-test-nonce", (), "kept-test/_nonce.html", dict)
        with pytest.raises(NotShared, match="CSRF token"):
            render_kept("kept-test-csrf", (), "kept-test/_csrf.html", dict)
    with app.test_request_context("/"):  # a refused part was not kept: it is refused again
        with pytest.raises(NotShared, match="CSP nonce"):
            render_kept("kept-test-nonce", (), "kept-test/_nonce.html", dict)
