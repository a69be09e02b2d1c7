"""Issue 13: the fault benchmark (`python -m benchmarks faults`) at a tiny scale. Billing, PDF
and e-mail children are SIGKILLed at random points and caught up by the supervisor and the
sweeps; every figure that counts a loss or a double is zero."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from benchmarks import faults
from benchmarks.faults import MUST_BE_ZERO, fault_run
from billing.models import Invoice
from tests.support.world import World


@pytest.mark.django_db(transaction=True)
def test_kills_of_billing_pdf_and_email_children_lose_nothing_and_double_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each kill right after its random unit of work: at this scale a later instant often finds
    # the child done, and the kill does not land.
    monkeypatch.setattr(faults, "JITTER_SECONDS", 0.0)
    figures = {
        name: value for name, value, _ in fault_run(contracts=20, guarantees=2, kills=2, seed=13)
    }
    assert {name: figures[name] for name in MUST_BE_ZERO} == dict.fromkeys(MUST_BE_ZERO, 0)
    assert (figures["contracts"], figures["invoices"]) == (20, 20)
    assert figures["kills"] >= 3  # of 6: a child may still finish its last unit first
    with scopes_disabled():
        assert Invoice.objects.filter(pdf__isnull=True).count() == 0
