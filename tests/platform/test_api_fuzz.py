"""Schemathesis against the API's own schema, as a wholesaler, a broker and an arbiter (issue 12,
finding 5): no server error, no status or content type the schema does not declare, no body that
breaks its schema, no invalid input accepted. Bounded: a few deterministic cases per operation,
valid and invalid, no shrinking.

Checks left out, and why:
- `positive_data_acceptance`: a schema cannot say every business rule (P + T ≤ E, a contract in
  force, the deadline of a declaration), so valid-looking data is refused with a 400 naming the
  rule, which is the contract of this API.
- `use_after_free`, `ensure_resource_availability`: stateful checks that need links between
  operations (the schema declares none).
- `max_response_time`: timing on a shared 2-core machine is not a finding.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from conversations.services.threads import thread_start
from portal.models import User
from portal.services import api_token_issue
from tests.support.billing import issued
from tests.support.claims import covered_buyer, declared, recently_due, unpaid
from tests.support.scopes import acting_as
from tests.support.studies import buyer_row, graded_buyer, study_at
from tests.support.underwriting import objects_for
from tests.support.world import World

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    ignored_auth,
]
EXAMPLES_PER_MODE = 3  # per operation, valid and invalid: ~370 cases per role


@dataclass
class Run:
    user: User
    token: str
    ids: dict[str, str]
    operations: int = 0
    cases: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


def _real_id(run: Run, operation: Any) -> dict[str, str] | None:
    """An object of alice's for an operation on `{id}` (a drawn uuid only ever finds a 404)."""
    if "{id}" not in operation.path:
        return None
    collection = operation.path.removeprefix("/api/v1/").split("/")[0]
    found = run.ids.get(collection)
    return {"id": found} if found else None


def _fuzz_operation(run: Run, operation: Any, mode: GenerationMode) -> None:
    seen: set[str] = set()
    # Signing out revokes the token it is called with (or all of them): a fresh one after.
    revokes = operation.path.startswith("/api/v1/auth/logout")
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=_real_id(run, operation))

    @hypothesis_settings(
        max_examples=EXAMPLES_PER_MODE,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report, don't minimise
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def call(case: Any) -> None:
        run.cases += 1
        headers = {"Authorization": f"Token {run.token}"}
        try:
            response = case.call(headers=headers)
            run.statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - every finding
            text = f"{operation.label} [{mode.value}]: {failure}".strip()
            if text.splitlines()[0] not in seen:  # once per operation and kind of failure
                seen.add(text.splitlines()[0])
                run.failures.append(f"{text}\n  reproduce: {case.as_curl_command()}")
        finally:
            if revokes:
                run.token = api_token_issue(user=run.user)[0]

    try:
        call()
    except Unsatisfiable:
        pass  # nothing to make invalid (no parameters, no body): no negative case


def _fuzz(schema: Any, run: Run) -> Run:
    for result in schema.get_all_operations():
        operation = result.ok()
        run.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(run, operation, mode)
    return run


def _alices_objects(world: World) -> dict[str, str]:
    """A request, a guarantee in force and a claim of alice's, by API collection."""
    alice = world.alice
    objects = objects_for(world, alice)
    with scopes_disabled():
        buyer = covered_buyer(alice)
        claim = declared(alice, buyer, unpaid("F-1", "1000", delivered=recently_due()))
        invoice = issued(alice.contract, date(2026, 1, 1))  # the covered buyer's top-up
    study = study_at(world, "submitted", buyer_row(graded_buyer(1).siren or ""), tenant=alice)
    with acting_as(alice.credit_manager):
        thread = thread_start(
            policyholder=alice.organisation,
            subject="Question",
            body="Bonjour",
            actor=alice.credit_manager,
        )
    return {
        "guarantee-requests": str(objects.request.pk),
        "guarantees": str(objects.guarantee.pk),
        "claims": str(claim.pk),
        "contracts": str(alice.contract.pk),
        "policyholders": str(alice.organisation.pk),
        "invoices": str(invoice.pk),
        "studies": str(study.pk),
        "threads": str(thread.pk),
    }


@cache
def _schema() -> Any:
    """The schema as the app serves it, built once per process (it is the same for everyone)."""
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())


@pytest.fixture
def _quiet_request_log() -> Iterator[None]:
    """Each 4xx is logged as a warning: thousands of lines. Server errors still are."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _in_the_test_transaction() -> Iterator[None]:
    """As Django's test client: the WSGI handler must not close the test's connection (its
    transaction holds the world) at the start and end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.usefixtures("_quiet_request_log")
@pytest.mark.parametrize("role", ["wholesaler", "broker", "arbiter"])
def test_the_api_keeps_to_its_schema(world: World, role: str) -> None:
    user: User = {
        "wholesaler": world.alice.credit_manager,
        "broker": world.broker_user,
        "arbiter": world.staff["arbiter"],
    }[role]
    run = Run(user=user, token=api_token_issue(user=user)[0], ids=_alices_objects(world))
    with _in_the_test_transaction():
        _fuzz(_schema(), run)
    print(
        f"\nschemathesis as {role}: {run.operations} operations, {run.cases} cases, "
        f"{len(run.failures)} findings; statuses {dict(sorted(run.statuses.items()))}"
    )
    assert not run.failures, "\n\n".join(run.failures)
