"""Fault figures (issue 13): a month-end run, its PDFs and its e-mails, each SIGKILLed at random
moments and caught up the way production does, then checked from the database and the sent mail.

Every job after the save is in the database, and a sweep catches it up (README, Architecture).
This benchmark kills the processes doing those jobs and counts what was lost or done twice:

1. billing: a child process runs the supervisor (`billing_run_supervise`, its stall threshold at
   0, so it resumes at once what a real beat would resume after `BILLING_RUN_STALL_SECONDS`),
   which executes the run in-process (Celery eager); it is SIGKILLed after a random number of
   contracts and a random fraction of a second (seeded), then a fresh child does the same,
   until the run is finished;
2. PDFs: children run the PDF sweep (`invoice_pdfs_sweep`, without its grace period) and render
   in-process; each is SIGKILLed a random instant after a random number of renders, until
   none is missing;
3. e-mails: children run the outbox sweep (`deliveries_pending` + `deliveries_dispatch`); each
   is SIGKILLed a random instant after a random e-mail left (often between the send and its
   mark, the case where the outbox must send it again). The sending lease is 0 in these
   children, as the stall threshold is: the killed sender is known dead, where production waits
   `SENDING_LEASE` (10 minutes), which `recovery_seconds` leaves out.
The kicks after commit are lost in every child (the broker is "down"): the sweeps are the only
path, the harder case. E-mails go to Django's file backend in a temporary folder, so those sent
by a child that was killed afterwards are counted too.

Figures: `faults.kills` (landed, all phases), `faults.contracts`, `faults.invoices`,
`faults.gaps` (numbers missing from the year's sequence), `faults.duplicates` (invoices beyond
one per contract), `faults.uninvoiced`, `faults.pdfs_missing`, `faults.emails_missing`,
`faults.emails_duplicated` (a recipient given one invoice's e-mail under two Message-IDs: two
messages in the mailbox), `faults.emails_resent_same_message_id` (a copy sent again after a kill
between send and mark, with the same Message-ID: the mailbox shows one; at-least-once is the
most SMTP allows, so this is reported, not a failure), `faults.recovery_seconds` (from the last
kill to everything complete) and `faults.total_seconds`. Any of gaps, duplicates, uninvoiced,
missing or duplicated above zero fails the benchmark.

Why a book of its own, and small: rendering the 10 000 PDFs of the billing bench's book takes
about two hours on a two-core machine, so this one bills `FAULTS_BENCH_CONTRACTS` (1 000)
contracts × `FAULTS_BENCH_GUARANTEES` (20) guarantees, one policyholder and one finance user per
contract (every invoice is one e-mail), in a database of its own (`<name>_bench_faults`, created
by the superuser of `DATABASE_ADMIN_URL`, dropped at the end), so reruns start fresh.
`FAULTS_BENCH_KILLS` (5) kills per phase, `FAULTS_BENCH_SEED` (random unless set; printed on
stderr) makes a run repeatable. `make bench` leaves it out (minutes, not seconds): `make faults`
(or `python -m benchmarks faults`) runs it.
"""

from __future__ import annotations

import email
import email.policy
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django_scopes import scopes_disabled

from benchmarks.billing import _period
from benchmarks.database import own_database
from benchmarks.registry import Figure, benchmark

MONTH = date(2001, 1, 1)
DOMAIN = "@faults.invalid"
CHILD_TIMEOUT = 3600
JITTER_SECONDS = 0.25

CHILD = textwrap.dedent(
    """
    import os, sys
    from datetime import timedelta
    import django
    django.setup()
    from django.conf import settings
    phase, database, mail_dir = sys.argv[1:4]
    settings.DATABASES["default"]["NAME"] = database
    settings.EMAIL_FILE_PATH = mail_dir
    settings.BILLING_RUN_STALL_SECONDS = 0
    from billing import pdf, services, tasks
    from billing.services import invoices
    from django.core.mail.backends import filebased
    from portal import outbox
    from portal import tasks as portal_tasks

    def broker_down(**kwargs):
        raise ConnectionError("broker down: the kick is lost")

    # The kicks after commit are lost: what was committed waits in the rows for its sweep.
    tasks.invoice_render_pdfs.delay = broker_down
    portal_tasks.deliveries_dispatch.delay = broker_down

    def progress(original):
        def counted(*args, **kwargs):
            result = original(*args, **kwargs)
            sys.stdout.write(".\\n")
            sys.stdout.flush()
            return result
        return counted

    if phase == "bill":
        invoices._invoice_document = progress(invoices._invoice_document)
        tasks.billing_run_supervise()  # eager: executes the resumed run here
    elif phase == "render":
        pdf.invoice_pdf_render = progress(pdf.invoice_pdf_render)
        tasks.invoice_render_pdfs.delay = tasks.invoice_render_pdfs  # the sweep's own enqueue
        while services.invoice_pdfs_sweep(older_than=timedelta(0)):
            pass
    else:
        outbox.SENDING_LEASE = timedelta(0)  # the previous sender is known dead
        backend = filebased.EmailBackend
        backend.send_messages = progress(backend.send_messages)
        while pending := outbox.deliveries_pending(older_than=timedelta(0)):
            if not outbox.deliveries_dispatch(delivery_ids=pending):
                break
    """
)


def _scale(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


@dataclass
class Faults:
    contracts: int
    guarantees: int
    kills_per_phase: int
    seed: int
    kills: Counter[str] = field(default_factory=Counter)
    last_kill: float = 0.0


# --- the book -------------------------------------------------------------------------------


def _book(contracts: int, guarantees: int) -> list[uuid.UUID]:
    """One insurer; per contract a policyholder with one finance user; `guarantees` buyers."""
    from portal.models import Organisation, OrganisationKind, Role, User
    from underwriting.models import Buyer, Contract, ContractStatus, Guarantee, PremiumBasis

    with transaction.atomic(), scopes_disabled():
        if not Organisation.objects.filter(kind=OrganisationKind.INSURER).exists():
            Organisation.objects.create(
                kind=OrganisationKind.INSURER,
                name="Assureur du banc de pannes",
                siren="552100554",
                address="1 rue des Pannes\n75000 Paris",
            )
        tag = uuid.uuid4().hex[:8]  # a second run in the same database gets new names
        holders = Organisation.objects.bulk_create(
            [
                Organisation(
                    kind=OrganisationKind.POLICYHOLDER,
                    name=f"Grossiste pannes {tag} {i + 1:05d}",
                    address="2 rue des Pannes\n75000 Paris",
                )
                for i in range(contracts)
            ]
        )
        User.objects.bulk_create(
            [
                User(
                    username=f"finance-{tag}-{i}{DOMAIN}",
                    email=f"finance-{tag}-{i}{DOMAIN}",
                    organisation=holder,
                    role=Role.FINANCE,
                )
                for i, holder in enumerate(holders)
            ]
        )
        buyers = Buyer.objects.bulk_create(
            [
                Buyer(siren=_siren(tag, j), name=f"Revendeur pannes {j + 1:03d}", city="Paris")
                for j in range(guarantees)
            ]
        )
        book = Contract.objects.bulk_create(
            [
                Contract(
                    policyholder=holder,
                    number=f"FAULTS-{tag}-{i + 1:06d}",
                    primary_insurer_name="Allianz Trade",
                    primary_policy_number=f"FAULTS-AT-{i + 1:06d}",
                    status=ContractStatus.TERMINATED,
                    starts_on=date(2000, 6, 1),
                    ends_on=date(2001, 1, 31),
                    monthly_rate=Decimal("0.0012") if i % 3 else Decimal("0.0011"),
                    premium_basis=PremiumBasis.PRORATA if i % 2 else PremiumBasis.PEAK,
                    insured_percentage=Decimal("0.9"),
                    max_credit_term_days=90,
                    waiting_period_days=150,
                    declaration_deadline_days=60,
                    top_up_multiple=Decimal("2"),
                )
                for i, holder in enumerate(holders)
            ]
        )
        Guarantee.objects.bulk_create(
            [
                Guarantee(
                    policyholder_id=contract.policyholder_id,
                    contract=contract,
                    buyer=buyer,
                    amount=Decimal(10_000 + ((i * 7 + j * 13) % 90) * 1_000),
                    primary_amount=Decimal("100000"),
                    period=_period(i, j),
                    change="grant",
                    note="",
                )
                for i, contract in enumerate(book)
                for j, buyer in enumerate(buyers)
            ],
            batch_size=5_000,
        )
    return [contract.pk for contract in book]


def _siren(tag: str, index: int) -> str:
    from stdnum import luhn

    base = f"{(int(tag, 16) * 1_000 + index) % 100_000_000:08d}"
    return base + luhn.calc_check_digit(base)


# --- the children and their kills -----------------------------------------------------------


def _remaining(faults: Faults, phase: str, run_id: uuid.UUID) -> int:
    from billing.models import BillingRun, BillingRunStatus, Invoice
    from portal.models import Delivery, DeliveryStatus

    with scopes_disabled():
        run = BillingRun.objects.get(pk=run_id)
        issued = Invoice.objects.filter(billing_run=run, kind="invoice")
        if phase == "bill":
            if run.status == BillingRunStatus.FINISHED:
                return 0
            return max(1, faults.contracts - issued.count())
        if phase == "render":
            return Invoice.objects.filter(month=MONTH, pdf__isnull=True).count()
        return (
            Delivery.objects.filter(recipient__email__endswith=DOMAIN)
            .exclude(status=DeliveryStatus.SENT)
            .count()
        )


def _wait_for_dead_sessions(timeout: float = 30.0) -> None:
    """A killed child's session ends when PostgreSQL reads its closed socket: until then its
    run lock, row locks and uncommitted group are still there."""
    from billing.services.runs import RUN_LOCK_CLASS

    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                """
                SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()
                   AND state IS NOT NULL AND state <> 'idle'
                """
            )
            busy = cursor.fetchone()[0]
            # This database's run locks only: pg_locks lists the whole server's.
            cursor.execute(
                """
                SELECT count(*) FROM pg_locks
                 WHERE locktype = 'advisory' AND classid = %s
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """,
                [RUN_LOCK_CLASS],
            )
            if busy == 0 and cursor.fetchone()[0] == 0:
                return
            time.sleep(0.05)
    raise RuntimeError("a killed child's database session outlived it")


def _child(
    faults: Faults, phase: str, mail_dir: str, kill_after: int | None, jitter: float
) -> bool:
    """One child of `phase`; SIGKILLed `jitter` seconds after `kill_after` units of work
    (None: runs to its end). Returns whether the kill landed (the child may finish first)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "unlockplus.settings",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "PYTHONUNBUFFERED": "1",
    }
    database = connection.settings_dict["NAME"]
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", CHILD, phase, database, mail_dir],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        assert child.stdout is not None
        done = 0
        killed = False
        for _ in child.stdout:
            done += 1
            if kill_after is not None and done >= kill_after:
                # Then a random instant more, so that a kill may also land in a commit, in a
                # write of the outbox or between a send and its mark, not only between units.
                time.sleep(jitter)
                if child.poll() is None:
                    child.send_signal(signal.SIGKILL)
                    faults.last_kill = time.perf_counter()
                    killed = True
                break
        child.stdout.close()
        code = child.wait(timeout=CHILD_TIMEOUT)
        if not killed and code != 0:
            errors.seek(0)
            tail = errors.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"the {phase} child failed ({code}):\n{tail}")
    _wait_for_dead_sessions()
    return killed


def _phase(faults: Faults, rng: random.Random, phase: str, run_id: uuid.UUID, mail: str) -> None:
    """Children of `phase` until nothing is left, the first `kills_per_phase` killed at a
    random point of what remains."""
    for _ in range(faults.kills_per_phase * 4 + 20):
        remaining = _remaining(faults, phase, run_id)
        if remaining == 0:
            return
        kill_after = None
        if faults.kills[phase] < faults.kills_per_phase and remaining > 1:
            kill_after = rng.randint(1, remaining - 1)
        if _child(faults, phase, mail, kill_after, rng.uniform(0, JITTER_SECONDS)):
            faults.kills[phase] += 1
    raise RuntimeError(f"{phase}: still {_remaining(faults, phase, run_id)} left after every child")


# --- what is checked ------------------------------------------------------------------------


NUMBER = re.compile(r"UP-\d{4}-\d{6}")


def _mailbox(mail_dir: str) -> list[tuple[str, str, str]]:
    """(recipient, invoice number, Message-ID) of every e-mail the file backend wrote."""
    separator = "\n" + "-" * 79 + "\n"
    sent = []
    for path in sorted(Path(mail_dir).iterdir()):
        for text in path.read_text(errors="replace").split(separator):
            if not text.strip():
                continue
            message = email.message_from_string(text.lstrip("\n"), policy=email.policy.default)
            match = NUMBER.search(str(message.get("Subject", "")))
            sent.append(
                (
                    str(message.get("To", "")).strip().lower(),
                    match.group(0) if match else "",
                    str(message.get("Message-ID", "")).strip(),
                )
            )
    return sent


def _verify(run_id: uuid.UUID, contracts: set[uuid.UUID], mail_dir: str) -> dict[str, int]:
    from billing.models import BillingRun, BillingRunStatus, Invoice, InvoiceNumberSequence
    from portal.models import Role, User

    with scopes_disabled():
        run = BillingRun.objects.get(pk=run_id)
        invoices = list(
            Invoice.objects.filter(month=MONTH, kind="invoice").values_list(
                "contract_id", "policyholder_id", "year", "sequence", "number", "pdf__pk"
            )
        )
        finance = dict(
            User.objects.filter(role=Role.FINANCE, email__endswith=DOMAIN).values_list(
                "organisation_id", "email"
            )
        )
        years = {year for _, _, year, _, _, _ in invoices}
        last = dict(
            InvoiceNumberSequence.objects.filter(year__in=years).values_list("year", "last")
        )
        numbered = set(Invoice.objects.filter(year__in=years).values_list("year", "sequence"))
    per_contract = Counter(contract for contract, *_ in invoices)
    gaps = sum(
        1 for year, top in last.items() for n in range(1, top + 1) if (year, n) not in numbered
    )
    expected = {(finance[holder].lower(), number) for _, holder, _, _, number, _ in invoices}
    sent = _mailbox(mail_dir)
    ids_per_email: dict[tuple[str, str], set[str]] = {}
    for recipient, number, message_id in sent:
        ids_per_email.setdefault((recipient, number), set()).add(message_id)
    copies = Counter(sent)
    return {
        "invoices": len(invoices),
        "gaps": gaps,
        "duplicates": sum(count - 1 for count in per_contract.values()),
        "uninvoiced": len(contracts - set(per_contract)),
        "pdfs_missing": sum(1 for *_, pdf in invoices if pdf is None),
        "emails_missing": len(expected - set(ids_per_email)),
        "emails_duplicated": sum(len(ids) - 1 for ids in ids_per_email.values())
        + len(set(ids_per_email) - expected),
        "emails_resent_same_message_id": sum(count - 1 for count in copies.values()),
        "run_unfinished": int(run.status != BillingRunStatus.FINISHED),
    }


MUST_BE_ZERO = (
    "gaps",
    "duplicates",
    "uninvoiced",
    "pdfs_missing",
    "emails_missing",
    "emails_duplicated",
    "run_unfinished",
)


def fault_run(*, contracts: int, guarantees: int, kills: int, seed: int) -> Iterator[Figure]:
    """The benchmark on the current database (the caller's own): book, kills, checks."""
    from billing import services
    from billing.models import BillingRunTrigger

    print(f"[faults] seed {seed}", file=sys.stderr, flush=True)
    faults = Faults(contracts, guarantees, kills, seed)
    rng = random.Random(seed)
    start = time.perf_counter()
    book = set(_book(contracts, guarantees))
    yield "book_seconds", time.perf_counter() - start, "s"
    with tempfile.TemporaryDirectory(prefix="faults-mail-") as mail_dir:
        start = time.perf_counter()
        run = services.billing_run_create(
            month=MONTH, trigger=BillingRunTrigger.COMMAND, actor=None
        )
        connection.close()  # no connection held across the children's kills
        for phase in ("bill", "render", "dispatch"):
            _phase(faults, rng, phase, run.pk, mail_dir)
        end = time.perf_counter()
        figures = _verify(run.pk, book, mail_dir)
    yield "seed", seed, "seed"
    yield "kills", sum(faults.kills.values()), "kills"
    for phase in ("bill", "render", "dispatch"):
        yield f"kills_{phase}", faults.kills[phase], "kills"
    yield "contracts", contracts, "contracts"
    for name, value in figures.items():
        yield name, value, "count"
    yield "recovery_seconds", end - (faults.last_kill or start), "s"
    yield "total_seconds", end - start, "s"
    failed = {name: figures[name] for name in MUST_BE_ZERO if figures[name]}
    if failed:
        raise AssertionError(f"faults (seed {seed}): {failed}")


@benchmark("faults")
def faults_month() -> Iterator[Figure]:
    seed = _scale("FAULTS_BENCH_SEED", random.SystemRandom().randrange(1_000_000))
    with own_database(f"{connection.settings_dict['NAME']}_bench_faults"):
        yield from fault_run(
            contracts=_scale("FAULTS_BENCH_CONTRACTS", 1_000),
            guarantees=_scale("FAULTS_BENCH_GUARANTEES", 20),
            kills=_scale("FAULTS_BENCH_KILLS", 5),
            seed=seed,
        )
