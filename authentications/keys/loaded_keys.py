"""Stored private keys loaded for signing, without the save-time check, and kept in a small
in-process cache, so a token request does not parse a PEM (and an RSA key) every time.

An entry serves only the very PEM text it was loaded from (compared by digest), so a key
that changed or was wiped is never served; entries left unused for LOADED_KEY_IDLE_SECONDS
are dropped, so a process keeps no key long after it stopped signing with it (a rotated key
is wiped days after its rotation, not hours)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.views.decorators.debug import sensitive_variables

from authentications.keys import private_keys

LOADED_KEYS_MAX = 256
# Longer than a token lives (an hour), so the scheduled refresh finds its key still loaded.
LOADED_KEY_IDLE_SECONDS = 2 * 3600


class _Loaded(NamedTuple):
    pem_digest: bytes
    key: private_keys.PrivateKey
    used_at: float


# Least recently used first.
_LOADED_KEYS: OrderedDict[tuple[int, str], _Loaded] = OrderedDict()
_LOADED_KEYS_LOCK = threading.Lock()


@sensitive_variables()
def load_stored_private_key(cache_key: tuple[int, str], pem: str) -> private_keys.PrivateKey:
    """Load a key that was fully checked when saved, skipping OpenSSL's slow RSA check.

    Cached in process by (signing key id, certificate fingerprint), for this PEM text only.
    """
    digest = hashlib.sha256(pem.encode()).digest()
    now = time.monotonic()
    with _LOADED_KEYS_LOCK:
        _drop_idle(now)
        entry = _LOADED_KEYS.get(cache_key)
        if entry is not None and entry.pem_digest == digest:
            _LOADED_KEYS[cache_key] = entry._replace(used_at=now)
            _LOADED_KEYS.move_to_end(cache_key)
            return entry.key
    loaded = serialization.load_pem_private_key(
        pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise private_keys.KeyMaterialError(
            f"The stored private key is {private_keys.describe_key(loaded)}. "
            f"{private_keys.NETSUITE_KEY_RULE}."
        )
    with _LOADED_KEYS_LOCK:
        _LOADED_KEYS[cache_key] = _Loaded(digest, loaded, now)
        _LOADED_KEYS.move_to_end(cache_key)
        while len(_LOADED_KEYS) > LOADED_KEYS_MAX:
            _LOADED_KEYS.popitem(last=False)
    return loaded


def _drop_idle(now: float) -> None:
    """Drop the entries unused for LOADED_KEY_IDLE_SECONDS (the oldest come first)."""
    while _LOADED_KEYS:
        cache_key, entry = next(iter(_LOADED_KEYS.items()))
        if now - entry.used_at < LOADED_KEY_IDLE_SECONDS:
            return
        del _LOADED_KEYS[cache_key]


def forget_loaded_key(cache_key: tuple[int, str]) -> None:
    """Drop a loaded key from this process's cache (its private key was wiped)."""
    with _LOADED_KEYS_LOCK:
        _LOADED_KEYS.pop(cache_key, None)
