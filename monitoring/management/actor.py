"""The insurer user a monitoring command acts as, so that the audit trail names someone."""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _

from portal import policy
from portal.models import OrganisationKind, Role, User


def add_actor_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--as",
        dest="username",
        default="",
        help="Username of the insurer user to act as (arbiter, senior arbiter or admin); "
        "default: the first active insurer admin.",
    )


def command_actor(username: str) -> User:
    """The named user, or the first active insurer admin; refused unless it may import
    buyer-health data."""
    users = User.objects.select_related("organisation").filter(is_active=True)
    if username:
        actor = users.filter(username=username).first()
        if actor is None:
            raise CommandError(_("Aucun utilisateur actif « %(name)s ».") % {"name": username})
    else:
        actor = (
            users.filter(organisation__kind=OrganisationKind.INSURER, role=Role.ADMIN)
            .order_by("pk")
            .first()
        )
        if actor is None:
            raise CommandError(
                _("Aucun administrateur assureur actif : nommez l'utilisateur avec --as.")
            )
    if not policy.can_import_health_data(actor):
        raise CommandError(
            _(
                "%(name)s ne peut pas importer de données de surveillance : arbitre, arbitre "
                "senior ou administrateur assureur seulement."
            )
            % {"name": actor.username}
        )
    return actor
