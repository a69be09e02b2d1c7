"""The claims handler's side: the queue, the claim file and its actions, the export."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def claim_queue(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def claim_export(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def claim_handle(request: HttpRequest, claim_id: str) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def claim_action(request: HttpRequest, claim_id: str, action: str) -> HttpResponse:
    raise NotImplementedError  # built next
