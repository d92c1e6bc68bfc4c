"""The leak hunt (issue 9, item 6): every flow runs once with DEBUG on and every logger at DEBUG,
scheduled refreshes travel through two real brokers, and then no private key (no 40-character
piece of its base64 body), access token, client assertion, API key, encryption key or passphrase
is found in the logs, pages, admin, audit trail, mails, broker messages or database
(tests/leak_search.py).

Redis comes from CELERY_TEST_BROKER_URL (default redis://127.0.0.1:6379/15). Without it the
Redis part is left out with a warning, except in CI, where the test fails.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings as django_settings
from django.contrib import admin
from django.core import mail
from django.db import connection
from django.http import JsonResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.apikeys import KEY_START, PREFIX_LENGTH
from api.models import ApiClient
from authentications import tasks
from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey
from authentications.services import authentication_records
from authentications.views import authentications as authentication_views
from tests import keyfactory
from tests.conftest import ENCRYPTION_KEY, Registered, new_certificate_id, new_consumer_key
from tests.fake_netsuite import FakeNetSuite
from tests.leak_search import (
    Haystack,
    LoggingAtDebug,
    RedisMonitor,
    Search,
    Secret,
    audit_events,
    bytes_read_elsewhere,
    database_files,
    database_rows,
    files_under,
    mails,
    private_key_secret,
    redis_keys,
)
from tests.test_worker import redis_problem

pytestmark = pytest.mark.django_db(transaction=True)

BROKER_URL = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
WAIT_SECONDS = 30
HTMX = {"HX-Request": "true"}
API_KEY = re.compile(r"nsc_[A-Za-z0-9_-]{43}")
# Named so they are at DEBUG even before they first log; every logger that exists is too.
LOGGERS = [
    *("django", "django.db.backends", "django.request", "django.template", "celery", "kombu"),
    *("urllib3", "requests", "authentications", "api", "nsconnect"),
]
# Admin pages read: every change form of these models, one of any other model.
SECRET_HOLDERS = (HttpAuthentication, SigningKey, AccessToken, ApiClient)
# How a worker logs that a task ended, whichever way.
FINISHED = re.compile(r"Task \S+\[[0-9a-f-]+\] (?:succeeded|raised|retry|failed|ignored)")

# A real worker process: the project's Celery app on a queue of its own (no other worker takes
# these tasks), every logger at DEBUG, and every message the filesystem broker delivered kept.
WORKER = """
import logging
import sys

from celery import signals

from nsconnect.celery import app


@signals.after_setup_logger.connect
@signals.worker_ready.connect
def everything_at_debug(**kwargs):
    # Django's own configuration puts its loggers at INFO: every logger at DEBUG instead.
    for name in ["", *logging.root.manager.loggerDict]:
        logging.getLogger(name).setLevel(logging.DEBUG)


queue = sys.argv[1]
app.conf.update(task_default_queue=queue)
if app.conf.broker_url.startswith("filesystem"):
    options = dict(app.conf.broker_transport_options, store_processed=True, polling_interval=0.05)
    app.conf.update(broker_transport_options=options)
app.worker_main(["worker", "--pool=solo", "--loglevel=DEBUG", "--without-mingle", "--without-gossip",
                 "--without-heartbeat", "--queues", queue, "--hostname", queue + "@%h"])
"""


class Boom(RuntimeError):
    """An error nobody expects, raised where a secret is in reach."""


class RecordingClient(Client):
    """A test client that keeps every answer it is given, headers and cookies included."""

    def __init__(self, haystacks: list[Haystack]) -> None:
        super().__init__(raise_request_exception=False)
        self.haystacks = haystacks
        self.allowed: frozenset[str] = frozenset()

    def request(self, **request: Any) -> Any:
        response: Any = super().request(**request)
        if response.streaming:
            body = b"".join(response.streaming_content)
            response.streaming_content = iter([body])
        else:
            body = response.content
        path = request["PATH_INFO"] + (f"?{request['QUERY_STRING']}" if request.get("QUERY_STRING") else "")
        source = "admin" if path.startswith("/admin/") else "API" if path.startswith("/api/") else "pages"
        headers = "\n".join(f"{name}: {value}" for name, value in response.items())
        text = f"{headers}\n{response.cookies.output()}\n{body.decode('utf-8', 'replace')}"
        where = f"{request['REQUEST_METHOD']} {path} answered {response.status_code}"
        self.haystacks.append(Haystack(source, where, text, self.allowed))
        return response

    @contextlib.contextmanager
    def allowing(self, kind: str) -> Iterator[None]:
        """For the one answer meant to carry a secret of this kind (a new API key, a token)."""
        self.allowed = frozenset({kind})
        try:
            yield
        finally:
            self.allowed = frozenset()


# --- workers and brokers -------------------------------------------------------------------


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log: Path
    settled: Callable[[], bool] = lambda: True  # its broker holds nothing unacknowledged

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace")

    def idle(self) -> bool:
        """Every task it received has ended, and been acknowledged."""
        output = self.output()
        return output.count("] received") == len(FINISHED.findall(output)) and self.settled()


def start_worker(name: str, broker_url: str, queue: str, folder: Path, fake: FakeNetSuite) -> Worker:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": broker_url if broker_url.startswith("redis") else "",
        "NSCONNECT_ENCRYPTION_KEYS": ENCRYPTION_KEY,
        "NSCONNECT_TOKEN_URL_ALLOWLIST": fake.origin,
        "NSCONNECT_HTTP_CONNECT_TIMEOUT": "2",
        "NSCONNECT_HTTP_READ_TIMEOUT": "5",
        "DEBUG": "true",  # Django then logs every SQL query with its parameters
        "LOG_LEVEL": "DEBUG",
        "EMAIL_URL": "consolemail://",  # mail is printed to its output, which is searched
        "PYTHONUNBUFFERED": "1",
    }
    log = folder / f"worker-{name}.log"
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603  (our own worker, fixed arguments)
            [sys.executable, "-c", WORKER, queue],
            env=env,
            cwd=django_settings.BASE_DIR,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Worker(name, process, log)


def stop(workers: list[Worker]) -> None:
    """SIGKILL to each worker's main pid once it is idle: a warm shutdown takes seconds and
    changes nothing searched (output unbuffered, messages acknowledged)."""
    for worker in workers:
        wait_for(worker.idle, f"the {worker.name} worker to finish its tasks", workers)
    kill(workers)


def kill(workers: list[Worker]) -> None:
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(timeout=10)


def wait_for(condition: Callable[[], Any], what: str, workers: list[Worker]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            outputs = "\n".join(worker.output()[-3000:] for worker in workers)
            raise AssertionError(
                f"still waiting for {what} after {WAIT_SECONDS} s; the workers said:\n{outputs}"
            )
        time.sleep(0.05)


def nothing_unacknowledged(url: str, queue: str) -> Callable[[], bool]:
    """kombu keeps a delivered message in the hash "unacked" until the worker acknowledges it."""
    client = redis.Redis.from_url(url)
    return lambda: not any(queue.encode() in message for message in client.hvals("unacked"))


def forget_queue(url: str, queue: str) -> None:
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"*{queue}*"):
        client.delete(key)


def database_url() -> str:
    """Where a worker process finds the test database."""
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    password = f":{database['PASSWORD']}" if database["PASSWORD"] else ""
    return f"postgres://{database['USER']}{password}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


def filesystem_options(folder: Path) -> dict[str, str]:
    """As settings.py makes them for a filesystem:// broker URL naming this folder."""
    for name in ("queue", "processed", "control"):
        (folder / name).mkdir(mode=0o700, parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
    }


def publish_sweep(broker_url: str, queue: str, transport_options: dict[str, str]) -> None:
    """What beat does each minute: put a sweep_tokens message on the broker."""
    app = Celery("leak-hunt", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(
        broker_url=broker_url,
        broker_transport_options=transport_options,
        task_default_queue=queue,
        result_backend=None,
    )
    try:
        app.send_task("authentications.tasks.sweep_tokens")
    finally:
        app.close()


def make_due(*authentications: HttpAuthentication) -> dict[int, str]:
    """Tokens one minute from expiry, inside the refresh margin; returns them as they are."""
    tokens = AccessToken.objects.filter(authentication__in=authentications)
    tokens.update(expires_at=timezone.now() + dt.timedelta(seconds=60))
    return {token.authentication_id: token.value for token in tokens}


def refreshed(before: dict[int, str]) -> bool:
    """Each token renewed since `before`, and its refresh finished (lease released)."""
    rows = HttpAuthentication.objects.filter(pk__in=before, lease_owner="")
    now = dict(AccessToken.objects.filter(authentication__in=rows).values_list("authentication", "value"))
    return len(now) == len(before) and all(now[pk] != value for pk, value in before.items())


# --- the flows ----------------------------------------------------------------------------


def registered(fake: FakeNetSuite, key: Any, *, kind: str, passphrase: str | None = None) -> Registered:
    """A key made for this test alone (no other test's leftovers can match it), known to NetSuite."""
    registration = Registered(
        kind=kind,
        private_key_pem=keyfactory.private_pem(key, passphrase=passphrase),
        certificate_pem=keyfactory.certificate_pem(key),
        certificate_id=new_certificate_id(),
        consumer_key=new_consumer_key(),
    )
    fake.register(
        consumer_key=registration.consumer_key,
        certificate_id=registration.certificate_id,
        certificate_pem=registration.certificate_pem,
    )
    return registration


def upload(fake: FakeNetSuite, consumer_key: str, certificate_pem: str) -> str:
    """What an administrator does in NetSuite's M2M setup with a downloaded certificate."""
    certificate_id = new_certificate_id()
    fake.register(consumer_key=consumer_key, certificate_id=certificate_id, certificate_pem=certificate_pem)
    return certificate_id


@dataclass
class Flows:
    """Every flow, as the people and services who use nsconnect go through it."""

    fake: FakeNetSuite
    form_data: Callable[..., dict[str, str]]
    monkeypatch: pytest.MonkeyPatch
    integrator: RecordingClient  # alice
    administrator: RecordingClient  # sam: staff, rotates keys, issues API keys
    service: RecordingClient  # a consuming service with an API key
    passphrase: str = field(default_factory=lambda: f"pass phrase {uuid.uuid4().hex[:16]}")
    pasted: list[Registered] = field(default_factory=list)

    def create_with_pasted_keys(self) -> None:
        """An RSA key tried with "Retrieve an access token key" and saved; an EC key behind a
        passphrase, whose first save crashes (DEBUG on, the key in reach)."""
        acme = registered(self.fake, rsa.generate_private_key(65537, 3072), kind="rsa3072")
        assert self.integrator.get("/authentications/new/").status_code == 200
        tried = self.integrator.post("/authentications/new/", {**self.form_data(acme), "retrieve_token": "1"})
        assert "Access token retrieved" in tried.content.decode()
        assert self.integrator.post("/authentications/new/", self.form_data(acme)).status_code == 302

        beta = registered(
            self.fake, ec.generate_private_key(ec.SECP384R1()), kind="p384", passphrase=self.passphrase
        )
        form = self.form_data(
            beta, name="Beta WMS", private_key_passphrase=self.passphrase, alert_recipients="ops@example.com"
        )

        def crash(*, key_material: Any, **kwargs: Any) -> None:
            raise Boom("while saving")

        with self.monkeypatch.context() as patch:
            patch.setattr(authentication_records, "authentication_create", crash)
            crashed = self.integrator.post("/authentications/new/", form)
        assert crashed.status_code == 500 and "while saving" in crashed.content.decode()
        assert self.integrator.post("/authentications/new/", form).status_code == 302
        self.pasted += [acme, beta]

    def create_with_a_generated_key_pair(self) -> None:
        """A key pair made in nsconnect: its certificate goes to NetSuite, the key stays."""
        made = {"kind": "p256", "days": "365", "common_name": "Gamma CRM"}
        assert self.integrator.post("/authentications/keys/new/", made, follow=True).status_code == 200
        pair = SigningKey.objects.get(authentication__isnull=True)
        certificate = self.integrator.get(f"/authentications/keys/{pair.pk}/certificate.pem").content.decode()
        gamma = Registered("p256", "", certificate, "", new_consumer_key())
        gamma.certificate_id = upload(self.fake, gamma.consumer_key, certificate)
        assert self.integrator.get(f"/authentications/new/?signing_key={pair.pk}").status_code == 200
        form = self.form_data(
            gamma, name="Gamma CRM", private_key="", certificate="", signing_key=str(pair.pk)
        )
        tried = self.integrator.post("/authentications/new/", {**form, "retrieve_token": "1"}, headers=HTMX)
        assert "Access token retrieved" in tried.content.decode()
        assert self.integrator.post("/authentications/new/", form).status_code == 302

    def retrieve_tokens(self) -> None:
        """On saved records (page and htmx), a REST request with the token, and a crash in a
        view that holds a fresh token (DEBUG on)."""
        retrieved = self.integrator.post("/authentications/acme-erp/retrieve-token/", follow=True)
        assert "Access token retrieved" in retrieved.content.decode()
        retrieved = self.integrator.post("/authentications/gamma-crm/retrieve-token/", headers=HTMX)
        assert "Access token retrieved" in retrieved.content.decode()
        assert (
            self.integrator.post("/authentications/acme-erp/test-request/", {"path": ""}).status_code == 200
        )

        def crash(**kwargs: Any) -> None:
            raise Boom("after the token came")

        with self.monkeypatch.context() as patch:
            patch.setattr(authentication_views, "RetrieveOutcome", crash)
            crashed = self.integrator.post("/authentications/acme-erp/retrieve-token/")
        assert crashed.status_code == 500 and "after the token came" in crashed.content.decode()

    def serve_an_api_client(self) -> str:
        """An API key issued (shown once), used, misused, and a crash while it is answered."""
        acme = HttpAuthentication.objects.get(identifier="acme-erp")
        with self.administrator.allowing("API key"):
            issued = self.administrator.post(
                "/api-clients/new/", {"name": "Orders ETL", "authentications": [acme.pk]}
            )
        (api_key,) = set(API_KEY.findall(issued.content.decode()))
        bearer = {"Authorization": f"Bearer {api_key}"}
        token_url = "/api/v1/authentications/{}/token"
        with self.service.allowing("access token"):
            served = self.service.get(token_url.format("acme-erp"), headers=bearer)
        current = served.json()["access_token"] == AccessToken.objects.get(authentication=acme).value
        assert current, "the API served another token than the current one"
        assert self.service.get(token_url.format("gamma-crm"), headers=bearer).status_code == 403
        wrong = {"Authorization": f"Bearer {api_key[:-4]}xxxx"}
        assert self.service.get(token_url.format("acme-erp"), headers=wrong).status_code == 401

        def crash(data: Any, *args: Any, **kwargs: Any) -> JsonResponse:
            if isinstance(data, dict) and "access_token" in data:
                raise Boom("while answering with the token")
            return JsonResponse(data, *args, **kwargs)

        with self.monkeypatch.context() as patch:
            patch.setattr("api.views.JsonResponse", crash)
            assert self.service.get(token_url.format("acme-erp"), headers=bearer).status_code == 500
        return api_key

    def rotate_and_roll_back(self) -> None:
        """The rotation wizard: a new key, its Certificate ID, verify, activate; then roll back."""
        acme = HttpAuthentication.objects.get(identifier="acme-erp")
        rotate = "/authentications/acme-erp/rotate/"
        assert self.administrator.get(rotate).status_code == 200
        new_key = {"kind": "p384", "days": "365", "common_name": ""}
        assert self.administrator.post(rotate + "generate/", new_key).status_code == 302
        pending = SigningKey.objects.get(authentication=acme, state="pending")
        certificate = self.administrator.get(f"/authentications/keys/{pending.pk}/certificate.pem")
        step = {
            "signing_key": pending.pk,
            "certificate_id": upload(self.fake, acme.consumer_key, certificate.content.decode()),
        }
        assert self.administrator.post(rotate + "certificate-id/", step).status_code == 302
        verified = self.administrator.post(rotate + "verify/", {"signing_key": pending.pk}, follow=True)
        assert "NetSuite gave a token with the new key" in verified.content.decode()
        step["fingerprint_sha256"] = pending.fingerprint_sha256
        step["confirmed"] = "yes"  # as the confirmation page posts it
        assert (
            "is now active"
            in self.administrator.post(rotate + "activate/", step, follow=True).content.decode()
        )
        rolled_back = self.administrator.post(rotate + "rollback/", {"confirmed": "yes"}, follow=True)
        assert "Rolled back" in rolled_back.content.decode()

    def send_mails(self) -> None:
        """Refresh fails (alert mail) and works again (recovery mail); a certificate nears expiry."""
        beta = HttpAuthentication.objects.get(identifier="beta-wms")
        self.fake.fail_next("invalid_client")
        assert tasks.refresh_token(beta.pk).startswith("failed")
        recovered = self.integrator.post("/authentications/beta-wms/retrieve-token/", follow=True)
        assert "Access token retrieved" in recovered.content.decode()
        soon = timezone.now() + dt.timedelta(days=5)
        gamma_key = SigningKey.objects.filter(authentication__identifier="gamma-crm", state="active")
        gamma_key.update(not_after=soon, effective_expires_at=soon)
        assert tasks.check_certificates() == 1
        assert len(mail.outbox) == 3, [message.subject for message in mail.outbox]

    def read_every_page(self) -> None:
        pages = ["/", "/authentications/", "/audit/", "/api-clients/", "/api/v1/openapi.json"]
        for identifier in HttpAuthentication.objects.values_list("identifier", flat=True):
            pages += [f"/authentications/{identifier}/{page}" for page in ("", "edit/", "rotate/")]
        pages += [f"/authentications/keys/{pk}/" for pk in SigningKey.objects.values_list("pk", flat=True)]
        pages.append(reverse("admin:index"))
        for model in admin.site._registry:
            name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
            pages.append(reverse(f"{name}_changelist"))
            rows = model._default_manager.values_list("pk", flat=True)
            pages += [
                reverse(f"{name}_change", args=[pk]) for pk in (rows if model in SECRET_HOLDERS else rows[:1])
            ]
        for page in pages:
            assert self.administrator.get(page).status_code == 200, page


def test_no_secret_is_found_anywhere_after_every_flow(
    alice, django_user_model, fake_netsuite, form_data, settings, caplog, capsys, monkeypatch, tmp_path
):
    """GIVEN DEBUG on, every logger at DEBUG and two real brokers
    WHEN authentications are created (pasted key, passphrase-protected key, generated key pair),
    tokens retrieved, refreshed by workers through both brokers, served to an API client, the
    key rotated and rolled back, alert and expiry mails sent, views crash with secrets in reach,
    and every page and admin page is read
    THEN no private key, token, client assertion, API key, encryption key or passphrase is in
    any of it."""
    redis_missing = redis_problem(BROKER_URL)
    if redis_missing and os.environ.get("CI") == "true":
        pytest.fail(
            f"the leak hunt needs Redis at {BROKER_URL} ({redis_missing}); set CELERY_TEST_BROKER_URL"
        )
    settings.DEBUG = True
    settings.NSCONNECT_ALERT_EMAILS = []
    logging_at_debug = LoggingAtDebug()
    logging_at_debug.start(LOGGERS)
    pages: list[Haystack] = []
    sam = django_user_model.objects.create_superuser("sam", "sam@example.com", None)
    clients = RecordingClient(pages), RecordingClient(pages), RecordingClient(pages)
    flows = Flows(fake_netsuite, form_data, monkeypatch, *clients)
    flows.integrator.force_login(alice)
    flows.administrator.force_login(sam)
    queue = f"leak-hunt-{uuid.uuid4().hex[:12]}"
    folder = tmp_path / "broker"
    filesystem = filesystem_options(folder)
    monitor = None if redis_missing else RedisMonitor(BROKER_URL)
    workers: list[Worker] = []
    try:
        # The workers start first: they are ready by the time the flows need them.
        workers.append(start_worker("filesystem", f"filesystem://{folder}", queue, tmp_path, fake_netsuite))
        if monitor is not None:
            monitor.start()
            workers.append(start_worker("Redis", BROKER_URL, queue, tmp_path, fake_netsuite))
            workers[-1].settled = nothing_unacknowledged(BROKER_URL, queue)
        else:
            warnings.warn(
                f"no Redis at {BROKER_URL} ({redis_missing}): the leak hunt leaves it out", stacklevel=1
            )

        flows.create_with_pasted_keys()
        flows.create_with_a_generated_key_pair()
        flows.retrieve_tokens()
        api_key = flows.serve_an_api_client()
        flows.rotate_and_roll_back()
        flows.send_mails()

        # Scheduled refresh through the filesystem broker. Beta's certificate is revoked
        # meanwhile, so its refresh fails there and the worker mails the alert.
        acme, beta, gamma = HttpAuthentication.objects.order_by("identifier")
        before = make_due(acme, gamma)
        fake_netsuite.revoke(flows.pasted[1].certificate_id)
        make_due(beta)
        publish_sweep(f"filesystem://{folder}", queue, filesystem)
        wait_for(lambda: refreshed(before), "the filesystem worker's refresh", workers)
        alerted = HttpAuthentication.objects.filter(pk=beta.pk, failure_alert_sent=True)
        wait_for(alerted.exists, "the filesystem worker's alert mail", workers)
        # The same through Redis, where MONITOR sees each message travel.
        if monitor is not None:
            before = make_due(acme, gamma)
            publish_sweep(BROKER_URL, queue, {})
            wait_for(lambda: refreshed(before), "the Redis worker's refresh", workers)
        stop(workers)
        broker: list[Haystack] = files_under(folder, "broker (filesystem)")
        if monitor is not None:
            monitor.stop()
            broker += monitor.haystacks() + redis_keys(BROKER_URL)

        flows.read_every_page()
    finally:
        kill(workers)
        logging_at_debug.restore()
        if not redis_missing:
            forget_queue(BROKER_URL, queue)

    # What must not be found.
    acme_key, beta_key = flows.pasted
    secrets: list[Secret] = [
        private_key_secret("the pasted RSA key of Acme ERP", acme_key.private_key_pem),
        private_key_secret("the pasted, passphrase-protected key of Beta WMS", beta_key.private_key_pem),
        Secret("passphrase", "the passphrase of Beta WMS's key", flows.passphrase, min_leak=0),
        Secret(
            "API key", "the API key of Orders ETL", api_key[len(KEY_START) + PREFIX_LENGTH :], min_leak=24
        ),
        Secret("encryption key", "the key in NSCONNECT_ENCRYPTION_KEYS", ENCRYPTION_KEY),
        Secret("Django secret key", "SECRET_KEY", settings.SECRET_KEY, min_leak=0),
    ]
    for signing_key in SigningKey.objects.select_related("authentication"):
        owner = signing_key.authentication.name if signing_key.authentication else "no authentication"
        label = f"the stored {signing_key.state} private key {signing_key.pk} of {owner}"
        secrets.append(private_key_secret(label, signing_key.private_key))
    issued = list(fake_netsuite.issued_tokens)
    secrets += [
        Secret("access token", f"access token {number} issued by NetSuite", token)
        for number, token in enumerate(issued, start=1)
    ]
    # A client assertion gets tokens from NetSuite until it expires: its signature is a secret.
    sent = [request.form["client_assertion"][0] for request in fake_netsuite.requests if request.form]
    secrets += [
        Secret("client assertion", f"client assertion {number} sent to NetSuite", assertion.rsplit(".", 1)[1])
        for number, assertion in enumerate(sent, start=1)
    ]

    # Where it must not be found.
    out, err = capsys.readouterr()
    haystacks = [*pages, *logging_at_debug.capture.haystacks(), Haystack("logs", "caplog", caplog.text)]
    haystacks.append(Haystack("output", "stdout and stderr", out + err))
    haystacks += [Haystack("worker logs", f"the {w.name} worker's output", w.output()) for w in workers]
    haystacks += audit_events(AuditEvent.objects.all()) + mails(mail.outbox)
    haystacks += broker + database_rows() + database_files()

    # The hunt looked where the secrets went, and would have seen them.
    search = Search(secrets)
    counts = {
        kind: sum(secret.kind == kind for secret in secrets) for kind in ("access token", "private key")
    }
    assert counts["access token"] >= 12 and counts["private key"] >= 6, counts
    for kind in ("access token", "API key"):  # the one answer that carries each, searched as any other
        answer = next(haystack for haystack in haystacks if kind in haystack.allowed)
        assert search.find(replace(answer, allowed=frozenset())), f"the search missed the {kind} served"
    in_json = Haystack("check", "a key in JSON", json.dumps({"key": acme_key.private_key_pem}))
    assert search.find(in_json), "the search missed a private key written in JSON"
    sources = {haystack.source for haystack in haystacks}
    assert {"logs", "pages", "admin", "API", "audit trail", "mail", "worker logs", "database"} <= sources
    assert any("INSERT INTO" in h.text for h in haystacks if "django.db.backends" in h.where), "no SQL logged"
    assert any("urllib3" in haystack.where for haystack in haystacks), "no HTTP request logged"
    kept = files_under(folder / "processed", "broker")
    assert any("authentications.tasks.refresh_token" in h.text for h in kept), "no message kept"
    assert "Subject:" in workers[0].output(), "the filesystem worker mailed no alert"
    if monitor is not None:
        assert b"authentications.tasks.refresh_token" in monitor.buffer, "MONITOR saw no message"

    leaks = search.report(haystacks)
    if leaks:
        pytest.fail(leaks, pytrace=False)


def test_reading_a_database_file_leaves_sqlite_its_locks(tmp_path):
    """GIVEN a SQLite database open in this process in WAL mode WHEN the hunt reads its files
    and another process then opens and closes the database THEN that process sees this one's
    locks and leaves the write-ahead log in place. (Read and closed here, the files lost the
    locks: the other process deleted the log, and the suite's next queries failed with
    "disk I/O error".)"""
    import sqlite3

    database = tmp_path / "open.sqlite3"
    wal = Path(f"{database}-wal")
    here = sqlite3.connect(database, isolation_level=None)
    here.execute("PRAGMA journal_mode=WAL")
    here.execute("CREATE TABLE t (x)")
    here.execute("INSERT INTO t VALUES (1)")

    read = [bytes_read_elsewhere(path) for path in (database, wal, Path(f"{database}-shm"))]
    visit = "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('SELECT * FROM t').fetchall()"
    subprocess.run([sys.executable, "-c", visit, str(database)], check=True)  # noqa: S603  (our own code)

    assert all(read)
    assert wal.exists(), "the other process took itself for the last one and deleted the log"
    here.close()
