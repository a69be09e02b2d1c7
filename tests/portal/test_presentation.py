"""How the platform writes money, rates, dates and grades (DESIGN §6), and how amount inputs
read what people type: the functions, and the pages where the issue saw each slip."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
from django import forms
from django.contrib.messages import constants as message_levels
from django.core.mail import EmailMessage
from django.template import Context, Template
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django_scopes import scopes_disabled

from monitoring.models import GradeChange
from portal.forms import MoneyField
from portal.models import Role, User
from portal.money import eur, rate_label
from portal.presentation import grade_label
from portal.timeutils import business_today
from tests.support.billing import celery_eager
from tests.support.clients import client_for
from tests.support.factories import BuyerFactory
from tests.support.presentation import NARROW_NBSP, en_eur, fr_eur
from tests.support.scopes import scope_of
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting.models import Buyer, PendingDecision, RequestStatus


def in_english(client: Client) -> Client:
    client.post("/i18n/setlang/", {"language": "en", "next": "/portal/"})
    return client


# --- formatting functions ---------------------------------------------------------------


def test_french_amounts_group_thousands_with_a_narrow_no_break_space_and_end_with_euro() -> None:
    with translation.override("fr"):
        assert eur(Decimal("1234.56")) == f"1{NARROW_NBSP}234,56 €"
        assert eur(Decimal("1234567.5")) == f"1{NARROW_NBSP}234{NARROW_NBSP}567,50 €"
        assert eur(Decimal("-163.5")) == "-163,50 €"
        assert eur(Decimal("163.50")) == "163,50 €"


def test_english_amounts_put_the_euro_sign_first_with_commas() -> None:
    with translation.override("en"):
        assert eur(Decimal("1234.56")) == "€1,234.56"
        assert eur(Decimal("-163.5")) == "-€163.50"


def test_django_number_formatting_uses_the_narrow_space_too() -> None:
    template = Template('{{ n|floatformat:"2g" }} {{ n|eur }} {{ d|date:"SHORT_DATE_FORMAT" }}')
    context = Context({"n": Decimal("160000"), "d": date(2026, 11, 28)})
    with translation.override("fr"):
        assert template.render(context) == f"160{NARROW_NBSP}000,00 {fr_eur(160000)} 28/11/2026"
    with translation.override("en"):
        assert template.render(context) == f"160,000.00 {en_eur(160000)} 28/11/2026"


@pytest.mark.parametrize(
    ("rate", "french", "english"),
    [
        ("0.0012", "0,12 %", "0.12%"),
        ("0.001200", "0,12 %", "0.12%"),
        ("0.9", "90 %", "90%"),
        ("0.09", "9 %", "9%"),
        ("0.0925", "9,25 %", "9.25%"),
    ],
)
def test_rates_are_written_as_percentages_never_as_raw_decimals(
    rate: str, french: str, english: str
) -> None:
    with translation.override("fr"):
        assert rate_label(Decimal(rate)) == french
        assert Template("{{ r|rate }}").render(Context({"r": Decimal(rate)})) == french
    with translation.override("en"):
        assert rate_label(Decimal(rate)) == english


@pytest.mark.parametrize(
    ("grade", "label"),
    [
        (10, "note 10/10 (risque faible)"),
        (8, "note 8/10 (risque faible)"),
        (7, "note 7/10 (risque modéré)"),
        (5, "note 5/10 (risque moyen)"),
        (3, "note 3/10 (risque élevé)"),
        (1, "note 1/10 (risque élevé)"),
        (0, "note 0/10 (défaut)"),
    ],
)
def test_a_grade_reads_as_a_mark_out_of_ten_with_its_meaning(grade: int, label: str) -> None:
    with translation.override("fr"):
        assert grade_label(grade) == label


# --- amount inputs ------------------------------------------------------------------------


class AmountForm(forms.Form):
    amount = MoneyField(label="Montant accordé")


@pytest.mark.parametrize(
    "typed",
    [
        "1234.56",
        "1234,56",
        "1 234,56",
        "1 234.56",
        f"1{NARROW_NBSP}234,56",
        "1\xa0234,56",
        "1 234,56 €",
        "1234,56€",
        "1.234,56",
        "1,234.56",
    ],
)
def test_an_amount_input_accepts_french_and_plain_forms(typed: str) -> None:
    with translation.override("fr"):
        form = AmountForm({"amount": typed})
        assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == Decimal("1234.56")


def test_in_english_a_comma_before_three_digits_groups_thousands() -> None:
    with translation.override("en"):
        form = AmountForm({"amount": "160,000"})
        assert form.is_valid()
    assert form.cleaned_data["amount"] == Decimal("160000")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("cent mille", "Montant accordé : saisissez un montant en euros, par exemple 1 234,56."),
        ("12,34,5", "Montant accordé : saisissez un montant en euros, par exemple 1 234,56."),
        ("1 234,567", "Montant accordé : pas plus de deux chiffres après la virgule."),
        ("-5", "Montant accordé : le montant ne peut pas être négatif."),
    ],
)
def test_a_bad_amount_is_refused_with_a_message_naming_the_field(typed: str, message: str) -> None:
    with translation.override("fr"):
        form = AmountForm({"amount": typed})
        assert not form.is_valid()
        assert form.errors["amount"] == [message]


def test_an_amount_input_shows_the_amount_the_french_way_with_the_decimal_keypad() -> None:
    with translation.override("fr"):
        html = str(AmountForm(initial={"amount": Decimal("160000.00")})["amount"])
    assert f'value="160{NARROW_NBSP}000,00"' in html
    assert 'type="text"' in html and 'inputmode="decimal"' in html
    with translation.override("en"):
        html = str(AmountForm(initial={"amount": Decimal("160000.00")})["amount"])
    assert 'value="160,000.00"' in html


# --- pages ----------------------------------------------------------------------------------


@pytest.fixture
def buyer() -> Buyer:
    return BuyerFactory.create(name="Matériaux Bernard", grade=7)


@pytest.fixture
def arbiter(world: World) -> User:
    """The insurer's arbiter, with an authority of 50 000."""
    user = world.staff[Role.ARBITER]
    user.authority_amount = Decimal("50000")
    user.save(update_fields=["authority_amount"])
    return user


def test_the_decision_form_shows_160_000_and_an_arbiter_above_authority_gets_a_warning(
    world: World, arbiter: User, buyer: Buyer
) -> None:
    request = submit(world.alice, buyer, exposure="400000", primary="80000", top_up="160000")
    client = client_for(arbiter)
    url = reverse("arbiter_request", args=[request.pk])
    page = client.get(url).content.decode()
    assert f'name="amount" value="160{NARROW_NBSP}000,00"' in page
    assert "160000.00" not in page

    answer = client.post(
        url,
        {
            "outcome": "approved",
            "amount": f"160{NARROW_NBSP}000,00",
            "valid_from": business_today().isoformat(),
            "valid_until": "",
            "rationale": "",
            "client_message": "",
        },
        follow=True,
    )
    shown = list(answer.context["messages"])
    assert [(m.level, str(m)) for m in shown] == [
        (
            message_levels.WARNING,
            "Au-delà de votre pouvoir : la décision attend une contre-signature.",
        )
    ]
    assert '<li class="warning">Au-delà de votre pouvoir' in answer.content.decode()
    with scope_of(world.alice):
        request.refresh_from_db()
        assert request.status == RequestStatus.AWAITING_COUNTERSIGNATURE
        assert PendingDecision.objects.get(request=request).amount == Decimal("160000.00")


def test_the_decision_page_shows_the_grade_with_its_meaning_and_labels_no_proceedings(
    world: World, arbiter: User, buyer: Buyer
) -> None:
    request = submit(world.alice, buyer)
    page = client_for(arbiter).get(reverse("arbiter_request", args=[request.pk])).content.decode()
    assert "note 7/10 (risque modéré)" in page
    assert "Procédure collective : aucune" in page


def test_the_buyer_page_dates_the_grade_and_names_its_source(world: World, buyer: Buyer) -> None:
    GradeChange.objects.create(
        buyer=buyer,
        grade=7,
        effective_on=date(2026, 3, 12),
        source="Banque de France",
        provider="grades_csv",
        received_at=timezone.now(),
        applied_at=timezone.now(),
    )
    url = reverse("buyer_page", args=[world.alice.contract.pk, buyer.pk])
    page = client_for(world.alice.credit_manager).get(url).content.decode()
    assert "note 7/10 (risque modéré), au 12/03/2026, source : Banque de France" in page


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("123456789", "SIREN 123456789 invalide : la clé de contrôle (Luhn) ne correspond pas."),
        ("12345678901234", "SIRET 12345678901234 invalide : la clé de contrôle ne correspond pas."),
        ("1234567", "1234567 : un SIREN a 9 chiffres, un SIRET 14."),
        (
            "FR00123456789",
            "Numéro de TVA FR00123456789 invalide : la clé ou le SIREN ne correspond pas.",
        ),
    ],
)
def test_an_invalid_identifier_in_the_buyer_search_says_what_is_wrong(
    world: World, query: str, problem: str
) -> None:
    url = reverse("buyer_search", args=[world.alice.contract.pk])
    page = client_for(world.alice.credit_manager).get(url, {"q": query}).content.decode()
    assert problem.replace("'", "&#x27;") in page
    assert "Aucun acheteur trouvé" not in page


def test_a_valid_unknown_siren_or_a_name_is_simply_not_found(world: World) -> None:
    url = reverse("buyer_search", args=[world.alice.contract.pk])
    client = client_for(world.alice.credit_manager)
    for query in ("552100554", "Quincaillerie inconnue"):
        page = client.get(url, {"q": query}).content.decode()
        assert "Aucun acheteur trouvé" in page
        assert "invalide" not in page


def test_the_live_limits_panel_flags_text_and_negative_amounts_as_the_form_does(
    world: World, buyer: Buyer
) -> None:
    client = client_for(world.alice.credit_manager)
    limits = reverse("request_limits", args=[world.alice.contract.pk, buyer.pk])
    panel = client.get(limits, {"exposure": "beaucoup", "primary_amount": "40000"}).content.decode()
    message = "Encours sur l&#x27;acheteur (avec la nouvelle commande) : saisissez un montant"
    assert message in panel

    panel = client.get(
        limits, {"exposure": "100000", "primary_amount": "40000", "requested_top_up": "-5"}
    ).content.decode()
    assert "Top-up demandé (EUR) : le montant ne peut pas être négatif." in panel

    submitted = client.post(
        reverse("request_new", args=[world.alice.contract.pk, buyer.pk]),
        {"exposure": "beaucoup", "primary_amount": "40000", "credit_term_days": "60"},
    ).content.decode()
    assert message in submitted  # the same words on submit


def test_the_aggregate_cap_reads_as_a_limit_when_it_does_not_bind(
    world: World, buyer: Buyer
) -> None:
    contract = world.alice.contract
    with scopes_disabled():
        contract.aggregate_cap = Decimal("5000000")
        contract.save(update_fields=["aggregate_cap"])
    limits = reverse("request_limits", args=[contract.pk, buyer.pk])
    panel = (
        client_for(world.alice.credit_manager)
        .get(limits, {"exposure": "100000", "primary_amount": "40000"})
        .content.decode()
    )
    assert f"Plafond global du contrat : {fr_eur(5000000)}, dont 0,00 € déjà garantis" in panel
    assert "serait dépassé" not in panel


def test_role_names_are_translated_and_dates_are_day_month_year_in_english(
    world: World, arbiter: User
) -> None:
    french = client_for(arbiter).get("/portal/").content.decode()
    assert "Arbitre" in french
    english = in_english(client_for(arbiter)).get("/portal/").content.decode()
    assert "Arbiter" in english
    assert "Arbitre" not in english


@pytest.mark.parametrize(
    ("template", "region", "context"),
    [
        (
            "billing/_run_progress.html",
            "run-progress",
            {"run": SimpleNamespace(pk=uuid4(), is_active=True, is_stalled=False, percent=40)},
        ),
        (
            "studies/_progress.html",
            "study-progress",
            {
                "study": SimpleNamespace(pk=uuid4()),
                "progress": SimpleNamespace(done=False, analysed=4, total=10, percent=40),
            },
        ),
        (
            "monitoring/_file_progress.html",
            "file-progress",
            {"file": SimpleNamespace(pk=uuid4(), progress=40, stored=4, total=10), "running": True},
        ),
    ],
)
def test_a_page_that_refreshes_itself_announces_it_in_a_live_region_that_stays(
    template: str, region: str, context: dict[str, object]
) -> None:
    """Screen readers announce changes inside a live region that was already there: the
    region holds the polling element and htmx replaces only that element, picked from the
    answer with hx-select."""
    html = render_to_string(template, context)
    attributes = r'((?:[^>"]|"[^"]*")*)'
    opening = re.search(rf'<div id="{region}"{attributes}>\s*<div {attributes}>', html)
    assert opening is not None, html
    assert 'aria-live="polite"' in opening.group(1)
    assert "hx-get" not in opening.group(1)
    poller = opening.group(2)
    assert "hx-get=" in poller and "hx-trigger=" in poller
    assert f'hx-select="#{region} > div"' in poller
    assert 'hx-swap="outerHTML"' in poller


def test_e_mails_write_amounts_like_the_pages(
    world: World,
    arbiter: User,
    buyer: Buyer,
    mailoutbox: list[EmailMessage],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    request = submit(world.alice, buyer, exposure="100000", primary="40000", top_up="40000")
    with celery_eager(), django_capture_on_commit_callbacks(execute=True):
        client_for(arbiter).post(
            reverse("arbiter_request", args=[request.pk]),
            {
                "outcome": "approved",
                "amount": "40 000,00",
                "valid_from": business_today().isoformat(),
                "valid_until": "",
                "rationale": "",
                "client_message": "",
            },
        )
    to_the_wholesaler = [
        message for message in mailoutbox if world.alice.credit_manager.email in message.to
    ]
    assert to_the_wholesaler
    written = [f"{message.subject}\n{message.body}" for message in to_the_wholesaler]
    assert any(fr_eur(40000) in text for text in written), written
