"""Month-end PDFs in batches: a committed group fans out as independent batch tasks, a batch
renders each PDF once in its policyholder's scope, a redelivered batch changes nothing, and a
fresh worker process writes the same bytes as a warm one."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from billing import services, tasks
from billing.models import Invoice, InvoicePdf
from billing.pdf import html_to_pdf, invoice_pdf_html
from portal.tenancy import tenant_scope
from tests.support.billing import book, guarantee, issued
from tests.support.factories import BuyerFactory
from tests.support.scopes import insurer_scope
from tests.support.world import World

OCTOBER = date(2026, 10, 1)


@pytest.fixture
def two_tenants_invoices(world: World) -> list[Invoice]:
    for tenant in (world.alice, world.bob):
        guarantee(tenant.contract, BuyerFactory.create(), "40000", date(2026, 1, 1))
    with insurer_scope():
        return [issued(world.alice.contract, OCTOBER), issued(world.bob.contract, OCTOBER)]


def stored() -> dict[str, str]:
    with scopes_disabled():
        return dict(InvoicePdf.objects.values_list("invoice__number", "sha256"))


def test_a_batch_renders_each_pdf_once_and_a_redelivery_changes_nothing(
    two_tenants_invoices: list[Invoice],
) -> None:
    ids = [str(invoice.pk) for invoice in two_tenants_invoices]
    assert tasks.invoice_render_pdfs(invoice_ids=ids) == 2
    first = stored()
    assert sorted(first) == sorted(invoice.number for invoice in two_tenants_invoices)
    assert tasks.invoice_render_pdfs(invoice_ids=ids) == 0  # redelivered: all stored already
    assert stored() == first
    with scopes_disabled():
        assert InvoicePdf.objects.count() == 2


def test_a_batch_skips_the_pdfs_a_download_stored_meanwhile(
    two_tenants_invoices: list[Invoice], world: World
) -> None:
    alice_invoice, bob_invoice = two_tenants_invoices
    tasks.invoice_render_pdf(invoice_id=str(alice_invoice.pk))
    before = stored()
    rendered = tasks.invoice_render_pdfs(invoice_ids=[str(alice_invoice.pk), str(bob_invoice.pk)])
    assert rendered == 1
    assert stored()[alice_invoice.number] == before[alice_invoice.number]


def test_a_committed_group_fans_out_as_batches_that_cover_every_invoice_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    contracts = book(services.PDF_BATCH + 3)
    with insurer_scope():
        invoices = [issued(contract, OCTOBER) for contract in contracts]
    enqueued: list[list[str]] = []

    def delay(**kwargs: Any) -> None:
        enqueued.append(kwargs["invoice_ids"])

    monkeypatch.setattr(tasks.invoice_render_pdfs, "delay", delay)
    ids = [str(invoice.pk) for invoice in invoices]
    assert tasks.invoice_render_pdfs(invoice_ids=ids) == 0  # nothing rendered: fanned out
    assert [len(batch) for batch in enqueued] == [services.PDF_BATCH, 3]
    assert [invoice_id for batch in enqueued for invoice_id in batch] == ids
    assert stored() == {}


def test_a_fresh_worker_process_writes_the_same_bytes_as_a_warm_one(
    two_tenants_invoices: list[Invoice], tmp_path: Path
) -> None:
    with insurer_scope():
        html = invoice_pdf_html(invoice=two_tenants_invoices[0])
    warm = [html_to_pdf(html) for _ in range(2)]
    source = tmp_path / "invoice.html"
    source.write_text(html, encoding="utf-8")
    script = (
        "import sys, django; django.setup(); from billing.pdf import html_to_pdf; "
        "sys.stdout.buffer.write(html_to_pdf(open(sys.argv[1], encoding='utf-8').read()))"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", script, str(source)],
        capture_output=True,
        check=True,
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "unlockplus.settings"},
        timeout=120,
    ).stdout
    assert fresh.startswith(b"%PDF-")
    assert warm[0] == warm[1] == fresh


def test_a_batch_reads_an_invoices_lines_in_one_query_however_many_they_are(
    world: World,
) -> None:
    """The month's ten thousand renders: a query per line would be a million more."""
    for _ in range(6):
        guarantee(world.alice.contract, BuyerFactory.create(), "40000", date(2026, 1, 1))
    guarantee(world.bob.contract, BuyerFactory.create(), "40000", date(2026, 1, 1))
    with insurer_scope():
        many, one = issued(world.alice.contract, OCTOBER), issued(world.bob.contract, OCTOBER)
    with scopes_disabled():
        assert (many.lines.count(), one.lines.count()) == (6, 1)
    queries = []
    for invoice in (many, one):
        with CaptureQueriesContext(connection) as captured:
            assert tasks.invoice_render_pdfs(invoice_ids=[str(invoice.pk)]) == 1
        queries.append(len(captured.captured_queries))
    assert queries[0] == queries[1], queries


def test_the_stored_pdf_is_kept_as_rendered_without_recompressing_its_deflated_streams(
    two_tenants_invoices: list[Invoice],
) -> None:
    invoice = two_tenants_invoices[0]
    tasks.invoice_render_pdfs(invoice_ids=[str(invoice.pk)])
    with tenant_scope([invoice.policyholder_id]), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_size(content), octet_length(content), a.attstorage"
            " FROM billing_invoicepdf, pg_attribute a"
            " WHERE a.attrelid = 'billing_invoicepdf'::regclass AND a.attname = 'content'"
        )
        stored_size, length, storage = cursor.fetchone()
    assert storage == "e"  # EXTERNAL: out of line, never through pglz
    assert stored_size == length
