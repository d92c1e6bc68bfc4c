"""The facts, downloads and NetSuite steps of a generated key pair, the same on every page."""

from __future__ import annotations

from typing import Any

from django import template

from authentications.models import SigningKey
from authentications.services.key_pairs import certificate_file_stem

register = template.Library()


@register.inclusion_tag("authentications/includes/key_pair_facts.html")
def key_pair_facts(signing_key: SigningKey, in_form: bool = False) -> dict[str, Any]:
    return {"signing_key": signing_key, "file_stem": certificate_file_stem(signing_key), "in_form": in_form}
