"""Pure metadata filters: which documents a question may be answered from.

A filter is a mapping of conditions, all of which must hold:

- ``date_from`` / ``date_to``: inclusive bounds on the ``date`` metadata field,
  ISO dates (``2020``, ``2020-01`` or ``2020-01-08``); undated documents fail them;
- ``title``: case-insensitive substring of the title;
- ``doc_id``: one id or a list of ids;
- any other key: the metadata field equals the value (case-insensitive for
  strings), or one of the values when a list is given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from qa.errors import InvalidFilterError
from qa.types import Document

_ISO_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
Scalar = str | int | float | bool


def validate(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Check a filter mapping, raising InvalidFilterError with what to fix."""
    clean: dict[str, Any] = {}
    for key, value in filters.items():
        if key in ("date_from", "date_to"):
            if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
                raise InvalidFilterError(
                    f"filters.{key} must be an ISO date such as 2020-01-08, not {value!r}"
                )
        elif isinstance(value, list):
            if not value or not all(isinstance(v, Scalar) for v in value):
                raise InvalidFilterError(f"filters.{key} must be a non-empty list of values")
        elif not isinstance(value, Scalar):
            raise InvalidFilterError(
                f"filters.{key} must be a string, number, boolean or list of them"
            )
        clean[key] = value
    return clean


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    return bool(a == b)


def _date_ok(doc: Document, key: str, bound: str) -> bool:
    date = doc.metadata.get("date")
    if not isinstance(date, str) or not _ISO_DATE.match(date):
        return False
    # Compare on the bound's precision: date_to=2020 includes all of 2020.
    value = date[: len(bound)]
    return value >= bound if key == "date_from" else value <= bound


def matches(doc: Document, filters: Mapping[str, Any]) -> bool:
    for key, wanted in filters.items():
        if key in ("date_from", "date_to"):
            ok = _date_ok(doc, key, wanted)
        elif key == "title":
            ok = str(wanted).casefold() in doc.title.casefold()
        else:
            have = doc.doc_id if key == "doc_id" else doc.metadata.get(key)
            options = wanted if isinstance(wanted, list) else [wanted]
            ok = any(_same(have, w) for w in options)
        if not ok:
            return False
    return True
