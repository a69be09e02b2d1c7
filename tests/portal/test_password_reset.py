"""A forgotten password: a working link by e-mail, and nothing said about unknown addresses."""

from __future__ import annotations

from django.core import mail
from django.test import Client

from tests.support.world import World


def test_password_reset_sends_a_working_link(world: World) -> None:
    user = world.alice.credit_manager
    client = Client()
    client.post("/password-reset/", {"email": user.email})
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/reset/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]
    form = client.get(f"/{path}", follow=True)
    assert form.status_code == 200
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Another-long-passw0rd", "new_password2": "Another-long-passw0rd"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Another-long-passw0rd")


def test_password_reset_for_an_unknown_address_says_the_same_and_sends_nothing(db: None) -> None:
    response = Client().post("/password-reset/", {"email": "nobody@example.test"})
    assert response.status_code == 302
    assert mail.outbox == []
