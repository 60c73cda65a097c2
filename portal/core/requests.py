"""The portal's request class: NUL characters never reach the application.

PostgreSQL refuses text containing NUL (``\\x00``) and SQLite stores it silently, so the same
pasted input would be a 500 on one database and invisible garbage on the other. Stripping it
from every query argument, form field and JSON string once, here, is simpler and safer than
validating it in each of the forms and services.
"""

from __future__ import annotations

from flask import Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.utils import cached_property

# No API takes more than a few levels; a thousand nested arrays only exhaust the stack.
MAX_JSON_DEPTH = 32


def _without_nul(data: ImmutableMultiDict) -> ImmutableMultiDict:
    if not any("\x00" in value for _key, value in data.items(multi=True)):
        return data
    return ImmutableMultiDict(
        (key.replace("\x00", ""), value.replace("\x00", ""))
        for key, value in data.items(multi=True)
    )


def _json_without_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_json_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_json_without_nul(k): _json_without_nul(v) for k, v in value.items()}
    return value


def check_json(value) -> None:
    """Refuse JSON nested deeper than ``MAX_JSON_DEPTH`` or holding text that is not Unicode
    (a lone ``\\ud800`` escape decodes to a surrogate no database or encoder accepts).

    Iterative, so a deep document cannot overflow the stack here either."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadRequest(
                    f"The JSON document is nested too deeply (limit {MAX_JSON_DEPTH})."
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise BadRequest(
            "The JSON document contains an invalid character (an unpaired surrogate escape "
            f"at position {err.start})."
        ) from None


class PortalRequest(Request):
    def get_json(self, *args, **kwargs):  # type: ignore[override]
        try:
            value = super().get_json(*args, **kwargs)
        except RecursionError:
            raise BadRequest("The JSON document is nested too deeply.") from None
        check_json(value)
        return _json_without_nul(value)

    @cached_property
    def args(self) -> ImmutableMultiDict:  # type: ignore[override]
        return _without_nul(super().args)

    def _load_form_data(self) -> None:
        super()._load_form_data()
        form = self.__dict__.get("form")
        if form is not None:
            self.__dict__["form"] = _without_nul(form)
