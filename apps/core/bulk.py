"""``rows_update``: write changed fields of many rows in one UPDATE, for the step paths that do it per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import models
from django.db.models import Case, Value, When

BATCH = 500


def rows_update(model: type[models.Model], rows: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Save ``fields`` of ``rows`` (instances of ``model``) with one UPDATE per ``BATCH`` rows: a field that has
    the same value in every row is set to it, the others by a CASE on the primary key. ``bulk_update`` builds
    a CASE branch for every row and every field; on a batch of step records most fields are the same (the
    phase, the step, the times), and building the branches was a quarter of a worker's CPU."""
    done = 0
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        values: dict[str, Any] = {}
        for name in fields:
            field = model._meta.get_field(name)
            column = [getattr(row, field.attname) for row in batch]
            if all(value == column[0] for value in column[1:]):
                values[field.attname] = column[0]
            else:
                values[field.attname] = Case(*(When(pk=row.pk, then=Value(value, output_field=field))
                                               for row, value in zip(batch, column, strict=True)), output_field=field)
        done += model._default_manager.filter(pk__in=[row.pk for row in batch]).update(**values)
    return done
