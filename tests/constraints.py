"""Assertions for invariants the database holds itself (CHECK, exclusion and unique constraints)."""

import pytest
from django.db import IntegrityError, transaction


def refused(model, pk, constraint: str, **values) -> None:
    """A raw UPDATE of one row with `values` fails on `constraint` (and changes nothing)."""
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        model.objects.filter(pk=pk).update(**values)
    assert f'"{constraint}"' in str(caught.value)
