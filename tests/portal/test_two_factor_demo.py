"""The demo logins say that insurer staff enrol a second factor at their first sign-in."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_seed_demo_logins_mark_the_insurer_staff_who_enrol_at_first_sign_in() -> None:
    out = StringIO()
    call_command("seed_demo", "--logins", stdout=out)
    lines = out.getvalue().splitlines()
    starred = [line for line in lines if line.startswith("* ")]
    assert len(starred) == 6  # the demo insurer's six staff
    assert any("arbiter" in line for line in starred)
    assert not any("credit_manager" in line for line in starred)
    assert "enrol an authenticator app" in out.getvalue()
