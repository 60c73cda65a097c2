"""The portal's request class: NUL characters never reach the application.

PostgreSQL refuses text containing NUL (``\\x00``) and SQLite stores it silently, so the same
pasted input would be a 500 on one database and invisible garbage on the other. Stripping it
from every query argument, form field and JSON string once, here, is simpler and safer than
validating it in each of the forms and services.
"""

from __future__ import annotations

from flask import Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.utils import cached_property


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


class PortalRequest(Request):
    def get_json(self, *args, **kwargs):  # type: ignore[override]
        return _json_without_nul(super().get_json(*args, **kwargs))

    @cached_property
    def args(self) -> ImmutableMultiDict:  # type: ignore[override]
        return _without_nul(super().args)

    def _load_form_data(self) -> None:
        super()._load_form_data()
        form = self.__dict__.get("form")
        if form is not None:
            self.__dict__["form"] = _without_nul(form)
