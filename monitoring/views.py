"""The policyholder's side of monitoring: its alerts, and the buyers it is exposed to."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def alerts(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def watchlist(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError  # built next
