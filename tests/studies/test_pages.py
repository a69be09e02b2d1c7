"""The study pages, end to end through the test client: start (for a client, a prospect, or the
wholesaler itself), upload a buyer list and read its verdicts, the insurer's review, the client's
answer, the report and its PDF, and who gets 404."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from portal.models import Role, User
from studies import services
from studies.models import Study, StudyLine, StudyStatus
from tests.support.clients import client_for
from tests.support.factories import BrokerFactory, UserFactory, siren_for
from tests.support.presentation import fr_eur
from tests.support.scopes import acting_as, insurer_scope
from tests.support.studies import Stage, buyer_list_csv, buyer_row, graded_buyer, study_at
from tests.support.world import Tenant, World
from underwriting.models import Guarantee


def good_sirens(count: int = 2) -> list[str]:
    """Buyers the registry knows with a good grade: the grid proposes the full top-up."""
    return [graded_buyer(900 + index).siren or "" for index in range(count)]


def wrong_key(siren: str) -> str:
    return siren[:-1] + str((int(siren[-1]) + 1) % 10)


def buyer_rows(sirens: list[str], *, bad: str | None = None) -> list[str]:
    """Grouped amounts with a decimal comma, a line per SIREN, and one bad line if asked."""
    rows = [
        buyer_row(siren, "100 000,00", "40 000,00", "40 000,00", name=f"Revendeur {n}")
        for n, siren in enumerate(sirens)
    ]
    if bad is not None:
        rows.append(buyer_row(bad, "50 000,00", "20 000,00", name="Revendeur faux"))
    return rows


def buyer_csv(sirens: list[str], *, bad: str | None = None) -> bytes:
    return buyer_list_csv(*buyer_rows(sirens, bad=bad))


def upload(client: Client, study: Study, content: bytes, name: str = "acheteurs.csv") -> Any:
    return client.post(
        reverse("study_upload", args=[study.pk]),
        {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
        follow=True,
    )


def start(client: Client, tenant: Tenant) -> Study:
    response = client.post(reverse("study_new"), {"policyholder": tenant.organisation.pk})
    assert response.status_code == 302, response.content.decode()[:2000]
    with insurer_scope():
        return Study.objects.get(contract=tenant.contract)


def page(client: Client, study: Study, **query: str) -> str:
    response = client.get(reverse("study_detail", args=[study.pk]), query)
    assert response.status_code == 200
    return response.content.decode()


def fresh(study: Study) -> Study:
    with insurer_scope():
        return Study.objects.get(pk=study.pk)


def alices_study(world: World, stage: Stage) -> tuple[Study, list[str]]:
    """alice's study, two good buyers and one bad line, submitted by the broker."""
    sirens = good_sirens()
    rows = buyer_rows(sirens, bad=wrong_key(siren_for(950)))
    return study_at(world, stage, *rows, tenant=world.alice, by=world.broker_user), sirens


def submitted_study(world: World) -> tuple[Study, list[str]]:
    return alices_study(world, "submitted")


def finalised_study(world: World) -> Study:
    """The same, finalised by a senior arbiter."""
    study, _sirens = alices_study(world, "finalised")
    return study


def set_authority(user: User, amount: str) -> None:
    user.authority_amount = Decimal(amount)
    user.save(update_fields=["authority_amount"])


# --- start and upload ---------------------------------------------------------------------


def test_a_broker_starts_a_study_for_its_client_and_reads_each_lines_verdict(
    world: World,
) -> None:
    client = client_for(world.broker_user)
    form = client.get(reverse("study_new")).content.decode()
    assert world.alice.organisation.name in form
    assert world.bob.organisation.name not in form  # no mandate for bob
    study = start(client, world.alice)
    assert study.broker_id == world.broker.pk
    sirens = good_sirens()
    bad = wrong_key(siren_for(950))
    html = upload(client, study, buyer_csv(sirens, bad=bad)).content.decode()
    assert "2 acceptée(s), 1 refusée(s)" in html
    # The refused line's error names the line, the column as the file names it, and the value.
    assert "Ligne 4, colonne « SIREN »" in html
    assert bad in html
    assert 'data-testid="study-submit"' in html
    assert fresh(study).lines_accepted == 2


def test_a_broker_starts_a_study_for_a_prospect_and_uploads_its_list(world: World) -> None:
    client = client_for(world.broker_user)
    assert client.get(reverse("study_new_prospect")).status_code == 200
    response = client.post(
        reverse("study_new_prospect"),
        {
            "name": "Prospect Informatique",
            "siren": "732 829 320",
            "address": "1 rue du Test, 75001 Paris",
            "contact_name": "Paula Prospect",
            "contact_email": "paula@prospect.test",
            "primary_insurer_name": "Coface",
            "primary_policy_number": "CF-123",
        },
    )
    assert response.status_code == 302
    with insurer_scope():
        study = Study.objects.get(is_prospect=True)
    assert response["Location"] == reverse("study_detail", args=[study.pk])
    html = upload(client, study, buyer_csv(good_sirens())).content.decode()
    assert "2 acceptée(s), 0 refusée(s)" in html
    assert "Prospect Informatique" in html


def test_the_prospect_form_shows_the_services_refusal_on_its_field(world: World) -> None:
    response = client_for(world.broker_user).post(
        reverse("study_new_prospect"),
        {
            "name": "Prospect",
            "siren": "732 829 321",  # wrong key
            "contact_name": "P",
            "contact_email": "p@prospect.test",
            "primary_insurer_name": "Coface",
            "primary_policy_number": "CF-1",
        },
    )
    assert response.status_code == 400
    assert "Luhn" in response.content.decode()


def test_a_wholesalers_credit_manager_runs_a_study_for_itself(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    study = start(client, world.alice)
    assert study.broker_id is None
    html = upload(client, study, buyer_csv(good_sirens(), bad="")).content.decode()
    assert "Ligne 4, colonne « SIREN »" in html  # the identifier is missing
    response = client.post(reverse("study_submit", args=[study.pk]), follow=True)
    assert "Étude soumise" in response.content.decode()
    assert fresh(study).status == StudyStatus.SUBMITTED
    assert 'data-testid="study-upload"' not in response.content.decode()


def test_a_second_study_on_the_same_contract_is_refused_with_a_message(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    start(client, world.alice)
    response = client.post(reverse("study_new"), {"policyholder": world.alice.organisation.pk})
    assert response.status_code == 400
    assert "déjà en cours" in response.content.decode()


def test_an_unreadable_file_stores_nothing_and_says_why(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    study = start(client, world.alice)
    response = upload(client, study, b"\x00\x01\x02 binary junk" * 10, name="liste.xlsx")
    assert response.status_code == 400
    assert 'data-testid="upload-errors"' in response.content.decode()
    assert fresh(study).uploaded_at is None
    header_only = upload(client, study, buyer_list_csv())
    assert "aucune ligne d&#x27;acheteur" in header_only.content.decode()


def test_a_file_above_10_mb_is_refused_before_it_is_read(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    study = start(client, world.alice)
    response = upload(client, study, b"a" * (10 * 1024 * 1024 + 1))
    assert response.status_code == 400
    assert "10 Mo" in response.content.decode()
    assert fresh(study).uploaded_at is None


def test_the_template_and_the_verdicts_download_in_both_formats(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    csv_template = client.get(reverse("study_template", kwargs={"format": "csv"}))
    assert csv_template.status_code == 200
    assert csv_template.content.startswith("\ufeff".encode())
    assert "Raison sociale" in csv_template.content.decode("utf-8-sig")
    xlsx = client.get(reverse("study_template", kwargs={"format": "xlsx"}))
    assert xlsx.content.startswith(b"PK")
    assert client.get("/studies/template.pdf").status_code == 404

    study = start(client, world.alice)
    bad = wrong_key(siren_for(950))
    upload(client, study, buyer_csv(good_sirens(), bad=bad))
    verdicts = client.get(reverse("study_verdicts", kwargs={"study_id": study.pk, "format": "csv"}))
    assert verdicts.status_code == 200
    assert "attachment" in verdicts["Content-Disposition"]
    text = verdicts.content.decode("utf-8-sig")
    assert "Ligne 4, colonne « SIREN »" in text
    assert bad in text
    assert "100000,00" in text  # the amounts written back the French way
    verdicts_xlsx = client.get(
        reverse("study_verdicts", kwargs={"study_id": study.pk, "format": "xlsx"})
    )
    assert verdicts_xlsx.content.startswith(b"PK")


def test_a_large_list_shows_a_progress_bar_until_the_worker_is_done(
    world: World, settings: Settings
) -> None:
    settings.STUDY_ASYNC_LINES = 1
    client = client_for(world.alice.credit_manager)
    study = start(client, world.alice)
    upload(client, study, buyer_csv(good_sirens()))
    assert fresh(study).status == StudyStatus.ANALYSING
    html = page(client, study)
    assert 'data-testid="study-progress"' in html and 'hx-trigger="every 2s"' in html
    progress = reverse("study_progress", args=[study.pk])
    assert "HX-Redirect" not in client.get(progress, HTTP_HX_REQUEST="true")
    with insurer_scope():
        services.study_analyse(study_id=study.pk)
    done = client.get(progress, HTTP_HX_REQUEST="true")
    assert done["HX-Redirect"] == reverse("study_detail", args=[study.pk])
    assert "every 2s" not in done.content.decode()
    assert 'data-testid="study-lines"' in page(client, study)


# --- review -------------------------------------------------------------------------------


def test_the_lines_filter_by_verdict_and_grade_and_sort_in_the_query_string(world: World) -> None:
    study, sirens = submitted_study(world)
    client = client_for(world.staff["arbiter"])
    refused = page(client, study, verdict="refused")
    assert 'data-testid="line-4"' in refused and 'data-testid="line-2"' not in refused
    graded = page(client, study, grade_min="8", sort="-exposure")
    assert 'data-testid="line-2"' in graded and 'data-testid="line-4"' not in graded
    assert "grade_min=8" in graded  # the sort links keep the filters


def test_the_arbiter_adjusts_a_line_and_finalises_within_its_authority(world: World) -> None:
    study, _sirens = submitted_study(world)
    arbiter = world.staff["arbiter"]
    set_authority(arbiter, "1000000")
    client = client_for(arbiter)
    html = page(client, study)
    assert 'data-testid="adjust-2"' in html and 'data-testid="study-finalise"' in html
    with insurer_scope():
        line = StudyLine.objects.get(study=study, line_number=2)
    response = client.post(
        reverse("study_line_adjust", args=[study.pk, line.pk]),
        {"amount": "30 000,00", "reason": "Note en baisse", "query": "verdict=accepted"},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("?verdict=accepted#line-2")
    with insurer_scope():
        line.refresh_from_db()
    assert line.adjusted_top_up == Decimal("30000.00")
    too_much = client.post(
        reverse("study_line_adjust", args=[study.pk, line.pk]),
        {"amount": "900 000", "reason": "trop"},
        follow=True,
    )
    assert "Ligne 2 : Le montant doit être compris entre 0 et" in too_much.content.decode()
    finalised = client.post(reverse("study_finalise", args=[study.pk]), follow=True)
    assert "Rapport d&#x27;étude émis" in finalised.content.decode()
    assert fresh(study).status == StudyStatus.FINALISED
    assert fresh(study).total_top_up == Decimal("70000.00")


def test_a_senior_countersigns_above_the_arbiters_authority_never_the_proposer(
    world: World,
) -> None:
    study, _sirens = submitted_study(world)
    arbiter = world.staff["arbiter"]
    set_authority(arbiter, "1000")
    response = client_for(arbiter).post(reverse("study_finalise", args=[study.pk]), follow=True)
    assert "contre-signature" in response.content.decode()
    assert fresh(study).status == StudyStatus.AWAITING_COUNTERSIGNATURE
    assert 'data-testid="study-countersign"' not in page(client_for(arbiter), study)
    senior = client_for(world.staff["senior_arbiter"])
    assert 'data-testid="study-countersign"' in page(senior, study)
    rejected = senior.post(reverse("study_countersign", args=[study.pk]), {"approve": "no"})
    assert rejected.status_code == 302
    assert fresh(study).status == StudyStatus.AWAITING_COUNTERSIGNATURE  # a note is required
    senior.post(reverse("study_countersign", args=[study.pk]), {"approve": "yes"})
    study = fresh(study)
    assert study.status == StudyStatus.FINALISED
    assert study.countersigned_by_id == world.staff["senior_arbiter"].pk


def test_the_client_accepts_from_the_page_and_the_guarantees_exist(world: World) -> None:
    study = finalised_study(world)
    client = client_for(world.alice.credit_manager)
    html = page(client, study)
    assert 'data-testid="study-accept"' in html and 'data-testid="study-decline"' in html
    assert fresh(study).expires_on is not None
    assert f"{fresh(study).expires_on:%d/%m/%Y}" in html
    response = client.post(reverse("study_accept", args=[study.pk]), follow=True)
    assert "Étude acceptée" in response.content.decode()
    assert fresh(study).status == StudyStatus.ACCEPTED
    with acting_as(world.alice.credit_manager):
        amounts = sorted(
            Guarantee.objects.filter(contract=world.alice.contract).values_list("amount", flat=True)
        )
    assert amounts == [Decimal("40000.00"), Decimal("40000.00")]


def test_declining_asks_for_a_note(world: World) -> None:
    study = finalised_study(world)
    client = client_for(world.broker_user)
    client.post(reverse("study_decline", args=[study.pk]), {"note": ""})
    assert fresh(study).status == StudyStatus.FINALISED
    client.post(reverse("study_decline", args=[study.pk]), {"note": "Trop cher"})
    study = fresh(study)
    assert study.status == StudyStatus.DECLINED and study.answer_note == "Trop cher"


# --- the report ---------------------------------------------------------------------------


def test_the_report_page_and_pdf_show_the_totals_terms_and_estimated_premium(
    world: World,
) -> None:
    study = finalised_study(world)
    client = client_for(world.alice.finance)
    html = client.get(reverse("study_report", args=[study.pk])).content.decode()
    assert fr_eur(80000) in html  # two top-ups of 40 000
    assert "0,12 % par mois" in html
    assert "90 %" in html
    assert 'data-testid="report-premium-total">96,00 €' in html  # 2 × 40 000 × 0,12 %
    assert world.insurer.name in html
    assert world.alice.contract.number in html
    pdf_url = reverse("study_report_pdf", args=[study.pk])
    first = client.get(pdf_url)
    assert first["Content-Type"] == "application/pdf"
    assert first.content.startswith(b"%PDF-")
    assert client.get(pdf_url).content == first.content  # deterministic


def test_the_report_waits_for_the_finalisation(world: World) -> None:
    study, _sirens = submitted_study(world)
    client = client_for(world.broker_user)
    response = client.get(reverse("study_report", args=[study.pk]), follow=True)
    assert "une fois l&#x27;étude finalisée" in response.content.decode()
    pdf = client.get(reverse("study_report_pdf", args=[study.pk]))
    assert pdf.status_code == 302
    assert pdf["Location"] == reverse("study_detail", args=[study.pk])


# --- who sees what ------------------------------------------------------------------------


def _study_urls(study: Study) -> tuple[list[str], list[str]]:
    with insurer_scope():
        line = StudyLine.objects.filter(study=study).first()
    assert line is not None
    gets = [
        reverse(name, args=[study.pk])
        for name in ("study_detail", "study_progress", "study_report", "study_report_pdf")
    ] + [
        reverse("study_verdicts", kwargs={"study_id": study.pk, "format": kind})
        for kind in ("csv", "xlsx")
    ]
    posts = [
        reverse(name, args=[study.pk])
        for name in (
            "study_upload",
            "study_submit",
            "study_finalise",
            "study_countersign",
            "study_accept",
            "study_decline",
        )
    ] + [reverse("study_line_adjust", args=[study.pk, line.pk])]
    return gets, posts


def test_an_outsider_gets_404_on_every_study_page_and_file(world: World) -> None:
    study = finalised_study(world)
    stranger_broker = UserFactory.create(
        username="other@broker.test", organisation=BrokerFactory.create(), role=Role.BROKER
    )
    outsiders = [*world.bob.users.values(), *world.charlie.users.values(), stranger_broker]
    gets, posts = _study_urls(study)
    for outsider in outsiders:
        client = client_for(outsider)
        for url in gets:
            assert client.get(url).status_code == 404, (url, outsider.username)
        for url in posts:
            assert client.post(url, {"note": "x", "approve": "yes"}).status_code == 404, (
                url,
                outsider.username,
            )
        listing = client.get(reverse("study_list")).content.decode()
        assert str(study.pk) not in listing
    assert fresh(study).status == StudyStatus.FINALISED


def test_a_finance_user_sees_the_study_but_no_button(world: World) -> None:
    study = finalised_study(world)
    client = client_for(world.alice.finance)
    html = page(client, study)
    for testid in ("study-accept", "study-decline", "study-upload", "study-submit", "adjust-2"):
        assert f'data-testid="{testid}"' not in html
    listing = client.get(reverse("study_list")).content.decode()
    assert 'data-testid="study-new"' not in listing
    assert client.post(reverse("study_accept", args=[study.pk])).status_code == 404
    assert client.get(reverse("study_new")).status_code == 404
    assert fresh(study).status == StudyStatus.FINALISED


def test_the_insurer_lists_the_studies_to_review(world: World) -> None:
    study, _sirens = submitted_study(world)
    client = client_for(world.staff["arbiter"])
    html = client.get(reverse("study_list"), {"review": "1"}).content.decode()
    assert reverse("study_detail", args=[study.pk]) in html
    assert 'data-testid="study-new"' not in html
    broker_list = client_for(world.broker_user).get(reverse("study_list")).content.decode()
    assert 'data-testid="study-new-prospect"' in broker_list


@pytest.mark.parametrize(
    ("role", "offered"),
    [("credit_manager", True), ("finance", False)],
)
def test_the_nav_offers_studies_to_those_who_work_on_them(
    world: World, role: str, offered: bool
) -> None:
    html = client_for(world.alice.users[role]).get(reverse("dashboard")).content.decode()
    assert ('data-testid="nav-studies"' in html) is offered
