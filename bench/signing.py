"""Minting an assertion for a stored key (read the row, the cached load, sign) against a bare
`cryptography` signature of the same bytes, per kind of key: steady state, first call too.

Loading an RSA key with OpenSSL's full check costs 100+ ms; nsconnect checks a key once when
it is saved and signs with a cached, unchecked load afterwards. The load is cached with the
ciphertext it was decrypted from, so a key is decrypted once per process (the first call),
not on every mint; the row reports what that decryption costs, and what the assertion costs
with the key in hand (the JWT around the signature)."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import timeit
from collections.abc import Callable

from bench import environment
from bench.table import Row

# kind, JWT algorithm, target ratio
KINDS = [
    ("rsa3072", "PS256", 1.15),
    ("rsa4096", "PS256", 1.15),
    ("p256", "ES256", 1.5),
    ("p384", "ES384", 1.5),
    ("p521", "ES512", 1.5),
]


def per_call(statement: Callable[[], object], number: int) -> float:
    """Seconds per call, steady state: the best of many short rounds (on a shared machine a
    short round is more often left alone than a long one)."""
    return min(timeit.repeat(statement, number=number, repeat=15)) / number


def bare_signer(key: object, algorithm: str, message: bytes) -> Callable[[], bytes]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding

    digests: dict[str, hashes.HashAlgorithm] = {
        "256": hashes.SHA256(),
        "384": hashes.SHA384(),
        "512": hashes.SHA512(),
    }
    digest = digests[algorithm[2:]]
    if algorithm.startswith("PS"):
        pss = padding.PSS(padding.MGF1(digest), digest.digest_size)
        return lambda: key.sign(message, pss, digest)  # type: ignore[attr-defined]
    return lambda: key.sign(message, ec.ECDSA(digest))  # type: ignore[attr-defined]


def run() -> list[Row]:
    environment.set_up(environment.sqlite_url("signing"), environment.filesystem_broker_url("signing"))
    try:
        return [measure(kind, algorithm, within) for kind, algorithm, within in KINDS]
    finally:
        environment.clean_up_own()


def measure(kind: str, algorithm: str, within: float) -> Row:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from django.utils import timezone

    from authentications import fields
    from authentications.models import HttpAuthentication, SigningKey
    from authentications.netsuite import assertion
    from authentications.services import token_attempt, token_sweep
    from tests import keyfactory

    key = keyfactory.private_key(kind)
    certificate = keyfactory.certificate_pem(key)
    der = x509.load_pem_x509_certificate(certificate.encode()).public_bytes(serialization.Encoding.DER)
    now = timezone.now()
    authentication = HttpAuthentication.objects.create(
        name=kind,
        identifier=kind,
        jwt_algorithm=algorithm,
        consumer_key="0" * 64,
        scopes="restlets",
        token_url="https://1234567.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",  # noqa: S106
    )
    SigningKey.objects.create(
        authentication=authentication,
        certificate_id="c" * 43,
        private_key=keyfactory.private_pem(key),
        certificate_pem=certificate,
        key_type="RSA" if kind.startswith("rsa") else "EC",
        key_size=key.key_size,
        curve="" if kind.startswith("rsa") else kind.upper(),
        fingerprint_sha256=hashlib.sha256(der).hexdigest(),
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=365),
        effective_expires_at=now + dt.timedelta(days=365),
        state=SigningKey.State.ACTIVE,
    )

    def mint() -> str:
        # The row as a scheduled refresh reads it (one query, the private key decrypted).
        signing_key = token_sweep.active_key_for_refresh(authentication.pk)
        if signing_key is None or signing_key.authentication is None:
            raise RuntimeError("the stored key is not active")
        credentials = token_attempt.credentials_for(signing_key.authentication, signing_key)
        return assertion.build_assertion(credentials, dt.datetime.now(dt.UTC))

    started = time.perf_counter()
    minted = mint()
    first = time.perf_counter() - started
    signing_input = minted.rsplit(".", 1)[0].encode()
    sign = bare_signer(key, algorithm, signing_input)

    # To say where the time goes: the row alone, the assertion with the key in hand, and the
    # decryption a key's first mint in a process pays.
    read_key = token_sweep.active_key_for_refresh(authentication.pk)
    if read_key is None or read_key.private_key_ciphertext is None:
        raise RuntimeError("the stored key is not active")
    ciphertext = read_key.private_key_ciphertext
    credentials = token_attempt.credentials_for(authentication, read_key)
    parts: dict[str, Callable[[], object]] = {
        "read": lambda: token_sweep.active_key_for_refresh(authentication.pk),
        "assertion": lambda: assertion.build_assertion(credentials, dt.datetime.now(dt.UTC)),
        "decrypt": lambda: fields.decrypt(ciphertext),
    }

    number = 10 if kind.startswith("rsa") else 100
    # Side by side, alternating, so a busy neighbour weighs on both alike.
    seconds: dict[str, list[float]] = {name: [] for name in ("bare", "mint", *parts)}
    for _ in range(5):
        seconds["bare"].append(per_call(sign, number))
        seconds["mint"].append(per_call(mint, number))
        for name, part in parts.items():
            seconds[name].append(per_call(part, number))
    best = {name: min(values) for name, values in seconds.items()}
    ratio = best["mint"] / best["bare"]
    label = kind.replace("rsa", "RSA ").replace("p", "P-")
    return Row(
        f"assertion for a stored {label} key ({algorithm}): row, cached load, sign",
        f"{best['mint'] * 1000:.3f} ms vs bare signature {best['bare'] * 1000:.3f} ms = {ratio:.2f}x "
        f"(the row read: {best['read'] * 1000:.3f} ms; the assertion with the key in hand: "
        f"{best['assertion'] * 1000:.3f} ms = {best['assertion'] / best['bare']:.2f}x; decrypting the "
        f"key, once per process: {best['decrypt'] * 1000:.3f} ms); first call {first * 1000:.1f} ms",
        f"within {within:g}x, steady state",
        ratio <= within,
    )
