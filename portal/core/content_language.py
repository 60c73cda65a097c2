"""The language of user-written text (WCAG 3.1.2 Language of Parts).

Records that hold text people wrote — organisations, agreements, meetings, minutes, review
comments (draft documents keep their own ``lang``) — store a BCP 47 language code in
``language``. Forms and imports may set it; when a record is flushed without one, it is detected
from the record's text with py3langid (its model ships in the wheel; nothing is downloaded).
Pages render the text with ``lang`` and ``dir="auto"`` (``content_attrs``), so a screen reader
reads it with the right voice and mixed-direction text is isolated from the interface around it.
"""

from __future__ import annotations

import re
from functools import lru_cache

import click
from markupsafe import Markup, escape

# What the detector may answer: the six UN languages and the other languages partners write in
# most (a wider set makes short texts less reliable; a narrower one mislabels them).
DETECTABLE = ("ar", "en", "es", "fr", "ru", "zh", "pt", "de", "it", "ja", "ko", "sw", "tr")
# Choices offered on forms: the six UN languages first, then the others.
LANGUAGE_CHOICES = ("en", "fr", "es", "ru", "zh", "ar", "pt", "de", "it", "ja", "ko", "sw", "tr")
RTL_LANGUAGES = {"ar", "fa", "he", "ur"}
MIN_LETTERS = 12  # fewer letters than this say too little to tell a language
MIN_CONFIDENCE = 0.80
_LANG_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(DETECTABLE))
    return identifier


def detect_language(*texts: str | None) -> str | None:
    """The language of these texts together, or None when there is too little text to tell."""
    text = " ".join(t for t in texts if t).strip()
    letters = sum(1 for ch in text if ch.isalpha())
    # One CJK character carries as much as a word: count them three times.
    letters += 2 * sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    if letters < MIN_LETTERS:
        return None
    code, confidence = _identifier().classify(text[:4000])
    if confidence < MIN_CONFIDENCE:
        return None
    return str(code)


def valid_language(code: str | None) -> str | None:
    """A stored language code, normalised; None for empty or malformed input."""
    code = (code or "").strip()
    if not code or not _LANG_CODE.match(code):
        return None
    return code.split("-")[0].lower() if len(code) <= 3 else code


def language_label(code: str) -> str:
    """The language's own name (endonym), e.g. "中文", "العربية"; the code if unknown."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(code).get_display_name(code) or code
    except (ValueError, UnknownLocaleError):
        return code


def content_attrs(language: str | None) -> Markup:
    """` lang="…" dir="auto"` for an element holding user-written text.

    Without a known language only ``dir="auto"``: the text still gets its own direction."""
    if language:
        return Markup(' lang="%s" dir="auto"') % escape(language)
    return Markup(' dir="auto"')


def bdi(text: str | None, language: str | None = None) -> Markup:
    """User-written text inside an interface sentence, isolated: <bdi lang=… dir=auto>."""
    return Markup("<bdi%s>%s</bdi>") % (content_attrs(language), text or "")


def language_choices() -> list:
    """Choices for a form's language field: "detect" first, then each language by its own name."""
    from flask_babel import gettext
    from wtforms.fields.choices import SelectChoice

    return [SelectChoice("", gettext("Detect from the text"))] + [
        SelectChoice(code, language_label(code), render_kw={"lang": code})
        for code in LANGUAGE_CHOICES
    ]


def check_language(code: str | None, errors: dict[str, str], key: str = "language") -> str | None:
    """Validate a language given on a form or in an import; record an error under ``key``."""
    from flask_babel import gettext

    if not (code or "").strip():
        return None
    normalised = valid_language(code)
    if normalised is None:
        errors[key] = gettext("Give a language code such as en, fr or zh.")
    return normalised


# --- detection on flush ------------------------------------------------------------------------

# A model whose records hold user-written text says which attributes tell its language (most
# telling first) with a class attribute, e.g. ``__content_text__ = ("description", "name")``
# next to its ``language`` column: core finds those models, it does not list them.
CONTENT_TEXT = "__content_text__"


def content_models() -> list[type]:
    """Every mapped model that declares ``__content_text__``, in table-name order."""
    from portal.extensions import db

    found = {
        mapper.class_
        for mapper in db.Model.registry.mappers
        if getattr(mapper.class_, CONTENT_TEXT, None)
    }
    return sorted(found, key=lambda model: model.__tablename__)


def _texts(obj) -> list[str]:
    return [getattr(obj, f, None) or "" for f in getattr(type(obj), CONTENT_TEXT)]


def fill_missing_languages(session, _flush_context=None, _instances=None) -> None:
    """before_flush: a record written without a language gets the one its text shows.

    A language already stored (chosen on a form, given in an import, or detected earlier) is
    kept: a person's choice is never overwritten by a guess."""
    for obj in list(session.new) + list(session.dirty):
        if not getattr(type(obj), CONTENT_TEXT, None):
            continue
        if getattr(obj, "language", None):
            continue
        detected = detect_language(*_texts(obj))
        if detected:
            obj.language = detected


def init_content_language(app) -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    if not getattr(init_content_language, "_listening", False):
        event.listen(Session, "before_flush", fill_missing_languages)
        init_content_language._listening = True
    app.jinja_env.globals.update(
        content_attrs=content_attrs, bdi=bdi, language_label=language_label
    )


# --- command line ------------------------------------------------------------------------------

content_language_cli = click.Group("content-language", help="Language of user-written text.")


@content_language_cli.command("detect")
def detect_command() -> None:
    """Detect and store the language of every record that has none yet."""
    from sqlalchemy import select

    from portal.core.transaction import committing
    from portal.extensions import db

    for model in content_models():
        found = 0
        with committing():  # one model at a time: a long run keeps what it has done
            rows = db.session.scalars(select(model).where(model.language.is_(None))).all()
            for row in rows:
                detected = detect_language(*_texts(row))
                if detected:
                    row.language = detected
                    found += 1
        click.echo(f"{model.__tablename__}: {found} of {len(rows)} without a language detected")
