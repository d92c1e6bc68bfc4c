"""1,000 due refreshes through the real worker (as Procfile starts it), against a fake NetSuite
answering in 100 ms from 10 accounts (one per loopback address): on Redis + PostgreSQL with
ES256 then RSA 4096 keys, and on the embedded default (SQLite + filesystem broker).

The bound is the larger of the signatures' CPU (spread over the cores) and the network's
(1,000 x latency / the requests in flight); each scenario runs in its own process."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

from bench import environment
from bench.table import Row

COUNT = 1000
ACCOUNTS = 10
LATENCY = 0.1
KINDS = [("p256", "ES256"), ("rsa4096", "PS256")]
# A database and a Redis database of this module's own: other bench modules (and CI, on db 15)
# may run at the same time, and a worker on a shared broker would take their tasks.
DATABASE = "nsconnect_bench_refresh"
REDIS_URL = "redis://127.0.0.1:6379/13"
SCENARIOS = {
    "postgresql": ("Redis + PostgreSQL", 2.0),
    "sqlite": ("embedded default: SQLite + filesystem broker", 3.0),
}


def run() -> list[Row]:
    rows = []
    for scenario, (label, within) in SCENARIOS.items():
        child = subprocess.run(  # noqa: S603 - our own module
            [sys.executable, "-m", "bench.refresh", scenario], capture_output=True, text=True, check=False
        )
        lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
        if child.returncode or not lines:
            print(child.stdout[-3000:], child.stderr[-3000:], file=sys.stderr)
            rows.append(Row(f"{COUNT:,} due refreshes, {label}", "failed", "runs", False))
            continue
        for result in map(json.loads, lines):
            bound = max(result["count"] * result["signature"] / result["cores"], result["network"])
            ratio = result["seconds"] / bound
            rows.append(
                Row(
                    f"{result['count']:,} due refreshes, {result['kind']}, {label}, "
                    f"NetSuite {LATENCY * 1000:.0f} ms on {ACCOUNTS} accounts",
                    f"{result['seconds']:.2f} s = {ratio:.2f}x the bound {bound:.2f} s; "
                    f"{result['requests']} requests, at most {result['most']} in flight "
                    f"({result['most_per_account']} per account); "
                    f"{result['signature'] * 1000:.2f} ms a signature; CPU: worker "
                    f"{result['worker_cpu']:.1f} s, fake NetSuite {result['fake_cpu']:.1f} s",
                    f"within {within:g}x of max(signatures x one signature / cores, "
                    f"{result['count']:,} x {LATENCY * 1000:.0f} ms / {result['cap']} in flight)",
                    ratio <= within
                    and result["requests"] == result["count"]
                    and result["most_per_account"] <= result["account_cap"]
                    and result["most"] <= result["cap"],
                )
            )
    return rows


def one_signature(kind: str) -> float:
    """Seconds one bare signature of an assertion-sized message takes with this kind of key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding

    from tests import keyfactory

    key = keyfactory.private_key(kind)
    message = b"x" * 400

    def sign() -> None:
        if kind.startswith("rsa"):
            key.sign(message, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
        else:
            key.sign(message, ec.ECDSA(hashes.SHA256()))

    sign()
    rounds = 50 if kind.startswith("rsa") else 500
    started = time.perf_counter()
    for _ in range(rounds):
        sign()
    return (time.perf_counter() - started) / rounds


def seed(kind: str, algorithm: str, fakes: list[Any], prefix: str) -> list[int]:
    """COUNT enabled authentications without a token, spread evenly over the fakes' accounts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from django.utils import timezone

    from authentications.models import HttpAuthentication, SigningKey
    from tests import keyfactory

    key = keyfactory.private_key(kind)
    pem = keyfactory.private_pem(key)
    certificate = keyfactory.certificate_pem(key)
    loaded = x509.load_pem_x509_certificate(certificate.encode())
    fingerprint = hashlib.sha256(loaded.public_bytes(serialization.Encoding.DER)).hexdigest()
    now = timezone.now()
    authentications = HttpAuthentication.objects.bulk_create(
        HttpAuthentication(
            name=f"{prefix} {n}",
            identifier=f"{prefix}-{n}",
            jwt_algorithm=algorithm,
            consumer_key=f"{prefix}{n:060d}"[-64:],
            scopes="restlets,rest_webservices",
            token_url=fakes[n % len(fakes)].token_url,
        )
        for n in range(COUNT)
    )
    if not all(a.pk for a in authentications):  # SQLite before 3.35 returns no ids
        authentications = list(HttpAuthentication.objects.filter(identifier__startswith=f"{prefix}-"))
    SigningKey.objects.bulk_create(
        SigningKey(
            authentication=authentication,
            certificate_id=f"{prefix}-certificate-{authentication.pk}",
            private_key=pem,
            certificate_pem=certificate,
            key_type="RSA" if kind.startswith("rsa") else "EC",
            key_size=key.key_size,
            curve="" if kind.startswith("rsa") else "P-256",
            fingerprint_sha256=fingerprint,
            not_before=now - dt.timedelta(days=1),
            not_after=now + dt.timedelta(days=365),
            effective_expires_at=now + dt.timedelta(days=365),
            state=SigningKey.State.ACTIVE,
            activated_at=now,
        )
        for authentication in authentications
    )
    by_origin = {fake.token_url: fake for fake in fakes}
    for authentication in authentications:
        by_origin[authentication.token_url].register(
            consumer_key=authentication.consumer_key,
            certificate_id=f"{prefix}-certificate-{authentication.pk}",
            certificate_pem=certificate,
        )
    return [authentication.pk for authentication in authentications]


def scenario(name: str) -> None:
    from tests.fake_netsuite import FakeNetSuite, InFlight

    gauge = InFlight()
    fakes = [FakeNetSuite(f"127.0.0.{n + 1}", gauge=gauge).start() for n in range(ACCOUNTS)]
    for fake in fakes:
        fake.delay = LATENCY
    if name == "postgresql":
        database, broker = environment.postgres_url(DATABASE), REDIS_URL
    else:
        database, broker = environment.sqlite_url("refresh"), environment.filesystem_broker_url("refresh")
    worker = None
    try:
        environment.set_up(database, broker, allowlist=[fake.origin for fake in fakes])
        from django.conf import settings

        from authentications.models import AccessToken, HttpAuthentication
        from nsconnect.celery import app

        worker = environment.start_worker(f"worker-{name}")
        for kind, algorithm in KINDS:
            HttpAuthentication.objects.update(enabled=False)  # the previous round's are done
            ids = seed(kind, algorithm, fakes, prefix=kind)
            signature = one_signature(kind)
            gauge.most = 0
            for fake in fakes:
                fake.in_flight.most = 0
                fake.requests.clear()
            worker_cpu, own_cpu = environment.cpu_seconds(worker.pid), time.process_time()
            started = time.monotonic()
            app.send_task("authentications.tasks.sweep_tokens")
            # Polled by the ids' range (this round's are the newest, made in one go): a count
            # over 1,000 ids by IN took this process a second of CPU per run, from the worker.
            first, last = min(ids), max(ids)
            stored = AccessToken.objects.filter(authentication_id__gte=first, authentication_id__lte=last)
            deadline = started + 120
            while stored.count() < len(ids) and time.monotonic() < deadline:
                time.sleep(0.02)
            seconds = time.monotonic() - started
            tokens = AccessToken.objects.filter(authentication_id__in=ids)
            worker_cpu = environment.cpu_seconds(worker.pid) - worker_cpu
            own_cpu = time.process_time() - own_cpu
            cap = settings.NSCONNECT_NETSUITE_CONCURRENCY
            result = {
                "kind": f"{algorithm} ({kind.replace('rsa', 'RSA ').replace('p256', 'P-256')})",
                "count": tokens.count(),
                "seconds": seconds,
                "signature": signature,
                "cores": len(os.sched_getaffinity(0)),
                "network": COUNT * LATENCY / cap,
                "cap": cap,
                "account_cap": settings.NSCONNECT_ACCOUNT_CONCURRENCY,
                "requests": sum(len(fake.requests) for fake in fakes),
                "most": gauge.most,
                "most_per_account": max(fake.in_flight.most for fake in fakes),
                "worker_cpu": worker_cpu,
                "fake_cpu": own_cpu,
                "load": os.getloadavg()[0],
            }
            print(json.dumps(result), flush=True)
        memory = {"worker": environment.rss_kb(worker.pid)}
        (environment.ROOT / "var" / f"bench-memory-{name}.json").write_text(json.dumps(memory))
    finally:
        if worker is not None:
            environment.stop(worker)
        for fake in fakes:
            fake.stop()
        environment.clean_up_own(f"worker-{name}.log")
        shutil.rmtree(environment.BENCH_DIR / "refresh-broker", ignore_errors=True)
        if name == "postgresql":
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()


if __name__ == "__main__":
    scenario(sys.argv[1])
