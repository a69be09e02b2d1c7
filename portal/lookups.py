"""`field__any=[...]`: `field = ANY(%s)` with the whole list bound as one array parameter.

Django's `__in` writes one placeholder per value, which psycopg then quotes one by one on the
client; for the tens of thousands of keys a monitoring sweep looks up, one array is several
times faster. Registered on every field and relation (`PortalConfig.ready`)."""

from __future__ import annotations

from typing import Any

from django.db.models import Field, ForeignObject, Lookup


class AnyLookup(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: Any) -> tuple[str, list[Any]]:
        return "%s", [list(value)]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


def register() -> None:
    Field.register_lookup(AnyLookup)
    ForeignObject.register_lookup(AnyLookup)  # relations keep a registry of their own
