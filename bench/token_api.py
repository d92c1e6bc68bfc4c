"""The token API through gunicorn (as Procfile starts it, one worker per core) on PostgreSQL with
the counters in Redis, as production runs it: 32 clients asking for cached tokens, all with one
shared API key, then each with its own; against a trivial JSON view served by the same gunicorn
(bench/urls.py), measured side by side in alternating rounds.

The load comes from one asyncio process writing prepared requests on raw connections: it costs
far less per request than a Python HTTP library, so that the server, not the load, is measured."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from bench import environment
from bench.table import Row

CLIENTS = 32
SECONDS = 4.0
ROUNDS = 3
WITHIN = 0.5
DATABASE = "nsconnect_bench_api"
CACHE_URL = "redis://127.0.0.1:6379/14"
# The cache's keys of the token API (Django's key prefix and version, then the product's):
# removed after the run. The Redis database is shared with bench.refresh's broker: never flushed.
CACHE_KEYS = ":1:nsconnect:api:*"


def run() -> list[Row]:
    os.environ.update(
        CACHE_URL=CACHE_URL,
        # Measured is the cost of a request, not the refusal of the 601st in a minute.
        NSCONNECT_API_RATE_LIMIT=str(10**9),
        WEB_CONCURRENCY=str(environment_cores()),
    )
    environment.set_up(environment.postgres_url(DATABASE), environment.filesystem_broker_url("token-api"))
    web = None
    try:
        paths = seed()
        port = free_port()
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        web = environment.start(
            [
                gunicorn,
                "nsconnect.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                # The product's settings with the bench's URLs: the trivial view besides the API.
                "--env",
                "DJANGO_SETTINGS_MODULE=bench.web_settings",
            ],
            log="token-api-web",
        )
        wait_until_served(port)
        return measure(port, paths)
    finally:
        if web is not None:
            environment.stop(web)
        forget_counts()
        environment.clean_up_own("token-api-web.log")


def environment_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed() -> dict[str, list[str]]:
    """CLIENTS authentications with a valid token; an API key allowed to read them all, and one
    key per authentication. Returns, per scenario, each client's request."""
    import datetime as dt

    from django.utils import timezone

    from api import services
    from authentications.models import AccessToken, HttpAuthentication, SigningKey

    now = timezone.now()
    authentications = HttpAuthentication.objects.bulk_create(
        HttpAuthentication(
            name=f"Authentication {n}",
            identifier=f"authentication-{n}",
            jwt_algorithm="ES256",
            consumer_key=f"{n:064d}",
            scopes="restlets",
            token_url=f"https://{n}.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
        )
        for n in range(CLIENTS)
    )
    authentications = list(HttpAuthentication.objects.order_by("pk"))
    # What serving a token reads: the active key's expiry, and the token itself. The key is
    # never used to sign here: the token is valid for an hour.
    keys = SigningKey.objects.bulk_create(
        SigningKey(
            authentication=authentication,
            certificate_id=f"certificate-{authentication.pk}",
            key_type="EC",
            key_size=256,
            curve="P-256",
            fingerprint_sha256=f"{authentication.pk:064d}",
            not_before=now - dt.timedelta(days=1),
            not_after=now + dt.timedelta(days=365),
            effective_expires_at=now + dt.timedelta(days=365),
            state=SigningKey.State.ACTIVE,
        )
        for authentication in authentications
    )
    AccessToken.objects.bulk_create(
        AccessToken(
            authentication=authentication,
            value=f"bench-token-{authentication.pk}",
            obtained_at=now,
            expires_at=now + dt.timedelta(hours=1),
            signing_key=key,
        )
        for authentication, key in zip(authentications, keys, strict=True)
    )
    shared = services.api_client_create(actor="bench", name="shared", authentications=authentications)
    own = [
        services.api_client_create(actor="bench", name=f"client {n}", authentications=[authentication])
        for n, authentication in enumerate(authentications)
    ]
    return {
        "trivial": [request("/bench/trivial/", None)] * CLIENTS,
        "one shared API key": [request(token_path(one), shared.key) for one in authentications],
        f"{CLIENTS} API keys": [
            request(token_path(one), issued.key) for one, issued in zip(authentications, own, strict=True)
        ],
    }


def token_path(authentication: object) -> str:
    return f"/api/v1/authentications/{authentication.identifier}/token"  # type: ignore[attr-defined]


def request(path: str, key: str | None) -> str:
    authorization = f"Authorization: Bearer {key}\r\n" if key else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{authorization}\r\n"


def wait_until_served(port: int) -> None:
    import requests

    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/bench/trivial/", timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass  # not listening yet, or still loading
        if time.monotonic() > deadline:
            log = (environment.BENCH_DIR / "token-api-web.log").read_text()[-2000:]
            raise RuntimeError(f"gunicorn did not start: {log}")
        time.sleep(0.2)


def measure(port: int, paths: dict[str, list[str]]) -> list[Row]:
    for requests_ in paths.values():
        load(port, requests_, 1.0)  # warm: each worker's connections, imports, caches
    seen: dict[str, list[tuple[float, float, int]]] = {name: [] for name in paths}
    for _ in range(ROUNDS):
        # Side by side, alternating, so a busy neighbour weighs on each alike.
        for name, requests_ in paths.items():
            seen[name].append(load(port, requests_, SECONDS))
    rows = []
    trivial = seen.pop("trivial")
    for name, runs in seen.items():
        ratios = sorted(rate / base for (rate, _, _), (base, _, _) in zip(runs, trivial, strict=True))
        ratio = statistics.median(ratios)
        rates = sorted(rate for rate, _, _ in runs)
        bases = sorted(rate for rate, _, _ in trivial)
        failed = sum(failures for _, _, failures in runs)
        p50 = statistics.median(latency for _, latency, _ in runs)
        rows.append(
            Row(
                f"token API through gunicorn ({environment_cores()} workers, PostgreSQL + Redis cache), "
                f"{CLIENTS} clients, {name}",
                f"{rates[0]:.0f}-{rates[-1]:.0f} req/s (p50 {p50 * 1000:.0f} ms) vs trivial view "
                f"{bases[0]:.0f}-{bases[-1]:.0f} req/s = {ratio:.2f}x "
                f"(rounds {ratios[0]:.2f}-{ratios[-1]:.2f}x); {failed} failed",
                f"at least {WITHIN:g}x the trivial view's requests per second",
                ratio >= WITHIN and failed == 0,
            )
        )
    return rows


def load(port: int, requests_: list[str], seconds: float) -> tuple[float, float, int]:
    """Each client sends its request again as soon as it has the answer, for `seconds`.
    Returns the answers per second (200s), the median latency and the failures (other answers)."""
    return asyncio.run(_load(port, [one.encode() for one in requests_], seconds))


async def _load(port: int, requests_: list[bytes], seconds: float) -> tuple[float, float, int]:
    latencies: list[float] = []
    failures = 0
    stop_at = time.monotonic() + seconds

    async def client(raw: bytes) -> None:
        nonlocal failures
        while time.monotonic() < stop_at:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                keep = True
                while keep and time.monotonic() < stop_at:
                    started = time.monotonic()
                    writer.write(raw)
                    head = await reader.readuntil(b"\r\n\r\n")
                    lines = head.decode("latin-1").lower().split("\r\n")
                    length = next((int(line[15:]) for line in lines if line.startswith("content-length:")), 0)
                    await reader.readexactly(length)
                    latencies.append(time.monotonic() - started)
                    if lines[0].split()[1] != "200":
                        failures += 1
                    # A sync worker answers one request per connection.
                    keep = "connection: close" not in lines
            finally:
                writer.close()

    started = time.monotonic()
    await asyncio.gather(*(client(raw) for raw in requests_))
    took = time.monotonic() - started
    return (len(latencies) - failures) / took, statistics.median(latencies), failures


def forget_counts() -> None:
    import redis

    cache = redis.Redis.from_url(CACHE_URL)
    keys = list(cache.scan_iter(match=CACHE_KEYS, count=1000))
    if keys:
        cache.delete(*keys)
