"""Stored private keys loaded for signing, without the save-time check, and kept in a small
in-process cache, so a token request does not parse a PEM (and an RSA key) every time.

An entry serves only the very PEM text it was loaded from (compared by digest), or the very
ciphertext that PEM was decrypted from under the present encryption keys, so a key that changed
or was wiped is never served; entries left unused for LOADED_KEY_IDLE_SECONDS
are dropped, so a process keeps no key long after it stopped signing with it (a rotated key
is wiped days after its rotation, not hours)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from cryptography.fernet import MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.views.decorators.debug import sensitive_variables

from authentications import fields
from authentications.keys import private_keys

LOADED_KEYS_MAX = 256
# Longer than a token lives (an hour), so the scheduled refresh finds its key still loaded.
LOADED_KEY_IDLE_SECONDS = 2 * 3600


@dataclass(slots=True)
class _Loaded:
    pem_digest: bytes
    key: private_keys.PrivateKey
    used_at: float
    # The stored ciphertext the PEM was decrypted from, and the encryption keys that opened it
    # (None when the PEM came in plain): the same text under the same keys opens to the same PEM.
    ciphertext: str | None = None
    opened_with: MultiFernet | None = None


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
            entry.used_at = now
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


@sensitive_variables()
def load_stored_ciphertext(cache_key: tuple[int, str], ciphertext: str) -> private_keys.PrivateKey | None:
    """load_stored_private_key for the private key as its column holds it (encrypted), None if
    it holds no key (empty, or blank once decrypted). It is decrypted only when this process
    has not loaded this very ciphertext under the present NSCONNECT_ENCRYPTION_KEYS: a refresh
    then neither decrypts (20-40 µs here, as long as a P-256 signature) nor makes a copy of the
    PEM text. Raises DecryptionError as decrypt does.
    """
    if not ciphertext:  # "" is stored as is (EncryptedTextField)
        return None
    opener = fields.get_fernet()  # settings changed (a key removed) make another: decrypt again
    now = time.monotonic()
    with _LOADED_KEYS_LOCK:
        _drop_idle(now)
        entry = _LOADED_KEYS.get(cache_key)
        if entry is not None and entry.ciphertext == ciphertext and entry.opened_with is opener:
            entry.used_at = now
            _LOADED_KEYS.move_to_end(cache_key)
            return entry.key
    pem = fields.decrypt(ciphertext, opener)
    if not pem.strip():
        return None
    loaded = load_stored_private_key(cache_key, pem)
    with _LOADED_KEYS_LOCK:
        entry = _LOADED_KEYS.get(cache_key)
        if entry is not None and entry.key is loaded:
            entry.ciphertext, entry.opened_with = ciphertext, opener
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
