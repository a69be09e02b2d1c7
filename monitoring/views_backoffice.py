"""The arbiters' side of monitoring: the monitoring page, imports and their progress."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def monitoring(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def monitoring_import(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def monitoring_file(request: HttpRequest, file_id: str) -> HttpResponse:
    raise NotImplementedError  # built next
