"""Stored private keys loaded for signing, without the save-time check, and kept in a small
in-process cache keyed by signing key and ciphertext, so a changed key is never served."""

from __future__ import annotations

import threading
from collections import OrderedDict

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.views.decorators.debug import sensitive_variables

from authentications.keys import private_keys

_LOADED_KEYS: OrderedDict[tuple[int, str], private_keys.PrivateKey] = OrderedDict()
_LOADED_KEYS_LOCK = threading.Lock()
LOADED_KEYS_MAX = 256


@sensitive_variables()
def load_stored_private_key(cache_key: tuple[int, str], pem: str) -> private_keys.PrivateKey:
    """Load a key that was fully checked when saved, skipping OpenSSL's slow RSA check.

    Cached in process by (signing key id, certificate fingerprint), so a new key
    version never meets an old entry.
    """
    with _LOADED_KEYS_LOCK:
        key = _LOADED_KEYS.get(cache_key)
        if key is not None:
            _LOADED_KEYS.move_to_end(cache_key)
            return key
    loaded = serialization.load_pem_private_key(
        pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise private_keys.KeyMaterialError(
            f"The stored private key is {private_keys.describe_key(loaded)}. "
            f"{private_keys.NETSUITE_KEY_RULE}."
        )
    with _LOADED_KEYS_LOCK:
        _LOADED_KEYS[cache_key] = loaded
        while len(_LOADED_KEYS) > LOADED_KEYS_MAX:
            _LOADED_KEYS.popitem(last=False)
    return loaded


def forget_loaded_key(cache_key: tuple[int, str]) -> None:
    """Drop a loaded key from this process's cache (its private key was wiped)."""
    with _LOADED_KEYS_LOCK:
        _LOADED_KEYS.pop(cache_key, None)
