"""Audit event details as readable "key: value" lines; the template escapes them."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


def _label(key: object) -> str:
    return str(key).replace("_", " ")


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{_label(key)}: {_text(item)}" for key, item in value.items()) or "—"
    return str(value)


@register.filter
def detail_lines(details: Any) -> list[tuple[str, str]]:
    """(key, value) pairs of an event's details, nested values flattened to one line each.

    Plain strings, not safe strings: autoescaping applies, since details may quote
    what NetSuite or a user sent.
    """
    if not isinstance(details, dict):
        return [("", _text(details))] if details else []
    return [(_label(key), _text(value)) for key, value in details.items()]
