"""Private keys crafted byte by byte: encryption and sizes that would make OpenSSL work for
seconds (never made for real: a 16384-bit RSA key takes minutes to generate), and keys
encrypted the way openssl's pkcs8 command does, to show those still open."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
DSA = "1.2.840.10040.4.1"
PBES2 = "1.2.840.113549.1.5.13"
PBKDF2 = "1.2.840.113549.1.5.12"
SCRYPT = "1.3.6.1.4.1.11591.4.11"
PBE_SHA1_3DES = "1.2.840.113549.1.12.1.3"
HMAC_OIDS = {"sha1": "1.2.840.113549.2.7", "sha256": "1.2.840.113549.2.9", "sha512": "1.2.840.113549.2.11"}
CIPHERS = {"aes-256-cbc": ("2.16.840.1.101.3.4.1.42", 32, 16), "des-ede3-cbc": ("1.2.840.113549.3.7", 24, 8)}


# --- DER --------------------------------------------------------------------------------


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    encoded = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def integer(value: int) -> bytes:
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def sequence(*elements: bytes) -> bytes:
    return tlv(0x30, b"".join(elements))


def octets(content: bytes) -> bytes:
    return tlv(0x04, content)


def oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    content = bytes([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        groups = [arc & 0x7F]
        arc >>= 7
        while arc:
            groups.append(0x80 | (arc & 0x7F))
            arc >>= 7
        content += bytes(reversed(groups))
    return tlv(0x06, content)


def algorithm(dotted: str, parameters: bytes = b"\x05\x00") -> bytes:
    return sequence(oid(dotted), parameters)


def pem(label: str, der: bytes) -> str:
    body = base64.b64encode(der).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n"


# --- keys of any size, with numbers of the right sizes and no meaning --------------------


def _odd(bits: int) -> int:
    return secrets.randbits(bits) | (1 << (bits - 1)) | 1


def rsa_private_key_der(bits: int, *, prime_bits: int | None = None, small: bool = False) -> bytes:
    """A PKCS#1 RSAPrivateKey with a modulus of exactly `bits` bits and dummy other numbers:
    of the sizes a real key has (p of `prime_bits`), or small, to fit a big modulus in 8 KiB."""
    if small:
        return sequence(integer(0), integer(_odd(bits)), *[integer(_odd(64)) for _ in range(7)])
    half = prime_bits or bits // 2
    return sequence(
        integer(0),
        integer(_odd(bits)),
        integer(65537),
        integer(_odd(bits - 1)),
        integer(_odd(half)),
        integer(_odd(bits - half)),
        integer(_odd(half - 1)),
        integer(_odd(bits - half - 1)),
        integer(_odd(half - 1)),
    )


def private_key_info(key_der: bytes, algorithm_der: bytes | None = None) -> bytes:
    """A PKCS#8 PrivateKeyInfo around a key (RSA unless told)."""
    return sequence(integer(0), algorithm_der or algorithm(RSA_ENCRYPTION), octets(key_der))


def dsa_private_key_info(bits: int) -> bytes:
    """A PKCS#8 DSA key whose public key OpenSSL would compute as a `bits`-bit modular power."""
    parameters = sequence(integer(_odd(bits)), integer(_odd(160)), integer(3))
    return private_key_info(integer(_odd(bits - 8)), sequence(oid(DSA), parameters))


def pkcs8_der(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# --- encrypted PKCS#8 ---------------------------------------------------------------------


def pbkdf2_parameters(iterations: int, salt: bytes, prf: str = "sha256") -> bytes:
    return algorithm(PBKDF2, sequence(octets(salt), integer(iterations), algorithm(HMAC_OIDS[prf])))


def scrypt_parameters(n: int, r: int, p: int, salt: bytes) -> bytes:
    return algorithm(SCRYPT, sequence(octets(salt), integer(n), integer(r), integer(p)))


def encrypted_private_key_info(kdf: bytes, cipher: str, iv: bytes, ciphertext: bytes) -> bytes:
    scheme = sequence(kdf, algorithm(CIPHERS[cipher][0], octets(iv)))
    return sequence(algorithm(PBES2, scheme), octets(ciphertext))


def unopenable(kdf: bytes, size: int = 1232) -> str:
    """An encrypted key whose ciphertext is noise: anything refused for its KDF is refused
    before decryption, so a real ciphertext (and paying the KDF to make it) is not needed."""
    der = encrypted_private_key_info(kdf, "aes-256-cbc", secrets.token_bytes(16), secrets.token_bytes(size))
    return pem("ENCRYPTED PRIVATE KEY", der)


def encrypt(
    inner: bytes,
    passphrase: str,
    *,
    iterations: int = 2048,
    prf: str = "sha256",
    scrypt: tuple[int, int, int] | None = None,
    cipher: str = "aes-256-cbc",
) -> str:
    """An ENCRYPTED PRIVATE KEY as `openssl pkcs8 -topk8` makes it (PBKDF2 2048 rounds,
    HMAC-SHA256, AES-256-CBC unless told; scrypt=(N, r, p) like its -scrypt option)."""
    _, key_length, block_size = CIPHERS[cipher]
    salt, iv = secrets.token_bytes(16), secrets.token_bytes(block_size)
    if scrypt:
        n, r, p = scrypt
        maxmem = 128 * r * (n + p + 2) + 1024 * 1024
        key = hashlib.scrypt(passphrase.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=key_length)
        kdf = scrypt_parameters(n, r, p, salt)
    else:
        key = hashlib.pbkdf2_hmac(prf, passphrase.encode(), salt, iterations, dklen=key_length)
        kdf = pbkdf2_parameters(iterations, salt, prf)
    block_cipher = TripleDES(key) if cipher == "des-ede3-cbc" else algorithms.AES(key)
    padder = padding.PKCS7(block_size * 8).padder()
    encryptor = Cipher(block_cipher, modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(inner) + padder.finalize()) + encryptor.finalize()
    return pem("ENCRYPTED PRIVATE KEY", encrypted_private_key_info(kdf, cipher, iv, ciphertext))
