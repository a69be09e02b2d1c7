"""`{% insurer_identity as identity %}`: the insurer's legal identity, from settings, for the
identity block every filed document shares (`templates/_pdf_parties.html`)."""

from __future__ import annotations

from django import template

from billing.pdf import InsurerIdentity
from billing.pdf import insurer_identity as identity_from_settings

register = template.Library()


@register.simple_tag
def insurer_identity() -> InsurerIdentity:
    return identity_from_settings()
