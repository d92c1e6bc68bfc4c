"""How long signing an assertion takes, and what the key cache saves (make bench).

Loading an RSA key with OpenSSL's full check costs 100+ ms; nsconnect checks a key
once when it is saved and signs with a cached, unchecked load afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import timeit
from collections.abc import Callable
from functools import partial

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nsconnect.settings")
django.setup()

from authentications.keys import loaded_keys, private_keys  # noqa: E402
from authentications.netsuite import assertion, token_urls  # noqa: E402
from tests import keyfactory  # noqa: E402

KINDS = [("rsa3072", "PS256"), ("rsa4096", "PS256"), ("p256", "ES256"), ("p384", "ES384"), ("p521", "ES512")]


def per_call_ms(statement: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(statement, number=number, repeat=5)) / number * 1000


def main() -> None:
    now = dt.datetime.now(dt.UTC)
    print(f"{'key':<8} {'alg':<6} {'checked load':>13} {'cached load':>12} {'sign':>9}  (ms per call)")
    for kind, algorithm in KINDS:
        pem = keyfactory.private_pem(keyfactory.private_key(kind))
        number = 3 if kind.startswith("rsa") else 200
        checked = per_call_ms(partial(private_keys.load_private_key, pem), number)
        cache_key = (hash(kind), kind)
        cached = per_call_ms(partial(loaded_keys.load_stored_private_key, cache_key, pem), 2000)
        credentials = assertion.Credentials(
            consumer_key="0" * 64,
            certificate_id="c" * 43,
            algorithm=algorithm,
            scopes=["restlets"],
            token_url="https://1234567.suitetalk.api.netsuite.com" + token_urls.TOKEN_PATH,
            private_key=loaded_keys.load_stored_private_key(cache_key, pem),
        )
        sign = per_call_ms(partial(assertion.build_assertion, credentials, now), 200)
        print(f"{kind:<8} {algorithm:<6} {checked:>13.3f} {cached:>12.4f} {sign:>9.3f}")


if __name__ == "__main__":
    main()
