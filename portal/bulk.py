"""Set-based updates of many rows at once: one `UPDATE … FROM unnest(...)` per group, each
column a bound array (Django's `bulk_update` writes a CASE per row, which is slow for tens of
thousands of rows). Runs in the caller's transaction and scope (row-level security applies)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from django.db import connection, models

CHUNK = 20_000
T = TypeVar("T")


def chunks(items: Sequence[T], size: int = 10_000) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of at most `size` (bounded statements for large sets)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rows_update(
    model: type[models.Model],
    pks: Sequence[Any],
    columns: dict[str, tuple[str, Sequence[Any]]],
    *,
    only_changed: bool = False,
) -> int:
    """Set, for each primary key in `pks`, the columns `{name: (postgres type, values)}` (values
    in the order of `pks`). Column names must be the model's own (checked); values are bound.
    Returns how many rows were written: with `only_changed`, only rows whose value differs."""
    if not pks:
        return 0
    table = model._meta.db_table
    pk = model._meta.pk
    assert pk is not None
    known = {field.column: field for field in model._meta.concrete_fields}
    for name, (_kind, values) in columns.items():
        if name not in known:
            raise ValueError(f"{model.__name__} has no column {name}")
        if len(values) != len(pks):
            raise ValueError(f"{name}: {len(values)} values for {len(pks)} rows")
    pk_type = "uuid" if isinstance(pk, models.UUIDField) else "bigint"
    names = list(columns)
    assignments = ", ".join(f'"{name}" = u."{name}"' for name in names)
    arrays = ", ".join([f"%s::{pk_type}[]", *(f"%s::{columns[name][0]}[]" for name in names)])
    aliases = ", ".join(["pk", *(f'"{name}"' for name in names)])
    changed = " OR ".join(f't."{name}" IS DISTINCT FROM u."{name}"' for name in names)
    sql = (
        f'UPDATE "{table}" AS t SET {assignments} '  # noqa: S608 - names checked above
        f"FROM unnest({arrays}) AS u ({aliases}) "
        f'WHERE t."{pk.column}" = u.pk' + (f" AND ({changed})" if only_changed else "")
    )
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(pks), CHUNK):
            end = start + CHUNK
            cursor.execute(
                sql,
                [list(pks[start:end]), *(list(columns[name][1][start:end]) for name in names)],
            )
            updated += cursor.rowcount
    return updated
