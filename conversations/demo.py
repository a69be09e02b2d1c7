"""A demo conversation for Distrilog, through the real services: its credit manager asks its
dedicated arbiter about a buyer, the arbiter answers, the credit manager follows up (so the
arbiter's inbox has a question waiting). Keyed by its subject: building twice changes nothing.

The services own their transactions (durable): call this after the demo world committed."""

from __future__ import annotations

from django_scopes import scopes_disabled

from conversations import services
from conversations.models import Thread
from portal.demo import DEMO_DOMAIN
from portal.models import Organisation, User
from portal.tenancy import policyholder_scope_for, tenant_scope
from underwriting.models import Buyer, Guarantee

SUBJECT = "Hausse d'encours prévue sur un revendeur"


def build_demo_conversations() -> None:
    with scopes_disabled():
        distrilog = Organisation.objects.filter(siren="552100554").first()
        if distrilog is None or distrilog.dedicated_arbiter is None:
            return
        if Thread.objects.filter(policyholder=distrilog, subject=SUBJECT).exists():
            return
        guarantee = Guarantee.objects.filter(policyholder=distrilog).order_by("-amount").first()
        buyer = Buyer.objects.get(pk=guarantee.buyer_id) if guarantee else None
    manager = User.objects.get(username=f"credit.distrilog@{DEMO_DOMAIN}")
    arbiter = distrilog.dedicated_arbiter
    with tenant_scope(policyholder_scope_for(manager)):
        thread = services.thread_start(
            policyholder=distrilog,
            subject=SUBJECT,
            body=(
                "Bonjour, nous prévoyons de doubler nos ventes à ce revendeur en décembre. "
                "Quelle limite complémentaire pourrions-nous obtenir ?"
            ),
            actor=manager,
            links=services.ThreadLinks(buyer=buyer),
        )
    with tenant_scope(policyholder_scope_for(arbiter)):
        services.message_post(
            thread_id=thread.pk,
            body=(
                "Bonjour, ses comptes 2025 sont bons et sa note stable. Déposez la demande "
                "avec l'encours prévu : jusqu'à deux fois votre limite primaire, je la traite "
                "en priorité."
            ),
            actor=arbiter,
        )
    with tenant_scope(policyholder_scope_for(manager)):
        services.message_post(
            thread_id=thread.pk,
            body="Merci. Faut-il joindre le bon de commande ?",
            actor=manager,
        )
