"""The arbiter's inbox, joining a thread, a client's dedicated arbiter and stand-in."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def thread_join(request: HttpRequest, thread_id: str) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def client_arbiter(request: HttpRequest, policyholder_id: str) -> HttpResponse:
    raise NotImplementedError  # built next
