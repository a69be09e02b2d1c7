"""Security events: sign-ins and their failures, two-factor changes, sessions, API tokens, roles
and mandates. Each is an `AuditEvent` whose action starts with `security.`, written where the
change is made, and read by the insurer admin on the security audit page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from portal.events import EventType
from portal.models import AuditEvent, User

PREFIX = "security."
# What an audit row keeps of the client: enough to recognise a device, bounded in size.
USER_AGENT_MAX = 200


class SecurityEvent(EventType):
    SIGNED_IN = "security.signed_in", _("Connexion")
    SIGN_IN_FAILED = "security.sign_in_failed", _("Échec de connexion")
    SIGN_IN_LOCKED_OUT = "security.sign_in_locked_out", _("Connexion bloquée après trop d'échecs")
    SIGNED_OUT = "security.signed_out", _("Déconnexion")
    SIGNED_OUT_EVERYWHERE = "security.signed_out_everywhere", _("Déconnexion de partout")
    SESSION_REVOKED = "security.session_revoked", _("Session fermée")
    SESSION_EXPIRED = "security.session_expired", _("Session expirée")
    TWO_FACTOR_ENROLLED = "security.two_factor_enrolled", _("Double authentification activée")
    TWO_FACTOR_DISABLED = "security.two_factor_disabled", _("Double authentification désactivée")
    TWO_FACTOR_VERIFIED = (
        "security.two_factor_verified",
        _("Code de double authentification accepté"),
    )
    TWO_FACTOR_FAILED = "security.two_factor_failed", _("Code de double authentification refusé")
    RECOVERY_CODE_USED = "security.recovery_code_used", _("Code de secours utilisé")
    RECOVERY_CODES_RENEWED = "security.recovery_codes_renewed", _("Codes de secours renouvelés")
    TWO_FACTOR_REQUIRED = (
        "security.two_factor_required",
        _("Double authentification exigée pour l'organisation"),
    )
    TOKEN_CREATED = "security.token_created", _("Jeton d'API créé")
    TOKEN_REVOKED = "security.token_revoked", _("Jeton d'API révoqué")
    TOKENS_REVOKED = "security.tokens_revoked", _("Tous les jetons d'API révoqués")
    PASSWORD_CHANGED = "security.password_changed", _("Mot de passe changé")
    PASSWORD_RESET_REQUESTED = (
        "security.password_reset_requested",
        _("Réinitialisation du mot de passe demandée"),
    )
    ROLE_CHANGED = "security.role_changed", _("Rôle modifié")
    USER_DEACTIVATED = "security.user_deactivated", _("Compte désactivé")
    USER_ACTIVATED = "security.user_activated", _("Compte activé")
    MANDATE_CHANGED = "security.mandate_changed", _("Mandat modifié")


def client_address(request: HttpRequest | None) -> str:
    """The client's IP address as the server saw it (a proxy in front sets REMOTE_ADDR)."""
    if request is None:
        return ""
    return str(request.META.get("REMOTE_ADDR", ""))[:45]


def client_agent(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    return str(request.META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_MAX]


def security_event_record(
    *,
    action: SecurityEvent,
    user: User | None,
    actor: User | None = None,
    request: HttpRequest | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record one security event about `user` (None: an unknown account, e.g. a failed sign-in
    with a username that matches nobody), done by `actor` (default: the user itself)."""
    details = {"ip": client_address(request), "user_agent": client_agent(request)}
    details.update(data or {})
    if actor is None and user is not None and user.pk:
        actor = user
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        policyholder=None,
        action=action.value,
        object_type=User._meta.label,
        object_id=str(user.pk) if user is not None and user.pk else "",
        reason=reason,
        data=details,
    )
