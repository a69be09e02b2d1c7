"""The conversation space: threads, messages, attachments."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def thread_list(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def thread_new(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def thread_detail(request: HttpRequest, thread_id: str) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def message_new(request: HttpRequest, thread_id: str) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def attachment_download(request: HttpRequest, thread_id: str, attachment_id: str) -> HttpResponse:
    raise NotImplementedError  # built next
