"""One e-mail layout (templates/mail/_layout.html and _layout.txt): every mail template extends
it, none carries its own copy of the frame or the signature, and the frame is what a reader
gets — their language, right to left in Arabic, the signature once."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import render_template
from flask_babel import force_locale

MAIL = Path(__file__).resolve().parent.parent / "templates" / "mail"
TEMPLATES = sorted(p for p in MAIL.iterdir() if p.suffix in {".html", ".txt"})
MAILS = [p for p in TEMPLATES if not p.name.startswith("_")]
SIGNATURE = '_("Partnership & Stakeholder Engagement Portal")'


@pytest.mark.parametrize("path", MAILS, ids=lambda p: p.name)
def test_every_mail_extends_the_one_layout_and_copies_nothing(path):
    source = path.read_text(encoding="utf-8")
    assert source.startswith(f'{{% extends "mail/_layout{path.suffix}" %}}')
    for copy in ("<!doctype", "<html", "<body", "\n-- \n", SIGNATURE, "#005f9e"):
        assert copy not in source, f"{path.name} has its own {copy!r}"


def test_a_rendered_mail_has_the_frame_in_the_readers_language(app):
    context = {
        "name": "Amal",
        "document": type("Doc", (), {"title": "Urban resilience"})(),
        "round": type("Round", (), {"title": "Second round"})(),
        "deadline": "1 January 2027",
        "link": "https://portal.example.org/r/abc",
        "unsubscribe": "https://portal.example.org/u/abc",
    }
    with app.test_request_context(), force_locale("ar"):
        html = render_template("mail/review_reminder.html", lang="ar", rtl=True, **context)
        text = render_template("mail/review_reminder.txt", lang="ar", rtl=True, **context)
    assert html.startswith("<!doctype html>")
    assert '<html lang="ar" dir="rtl">' in html
    assert html.count("https://portal.example.org/u/abc") == 1
    assert 'href="https://portal.example.org/r/abc" style="display:inline-block' in html
    assert html.rstrip().endswith("</html>")
    # Plain text: the body, then the signature separator, the signature, the unsubscribe line.
    body, separator, footer = text.partition("\n-- \n")
    assert separator and "https://portal.example.org/r/abc" in body
    assert footer.strip().endswith("https://portal.example.org/u/abc")
    assert "Amal" in body and "Partnership" not in body
