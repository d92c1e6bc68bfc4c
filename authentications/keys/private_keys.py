"""Private keys: read from PEM (plain or passphrase-protected), checked against NetSuite's
rules (RSA 3072/4096 or P-256/384/521, PS* or ES* algorithms), and written back as PEM.

Checking an RSA key is expensive (OpenSSL verifies it: 110-250 ms), so keys are checked
once, when they are saved; signing loads them through loaded_keys without the check. A
pasted key is measured (limits) before OpenSSL opens or checks it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from django.views.decorators.debug import sensitive_variables

from authentications.keys import limits
from authentications.keys.der import DamagedKeyError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

ALLOWED_RSA_SIZES = (3072, 4096)
ALLOWED_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
ALGORITHM_FOR_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
RSA_ALGORITHMS = ("PS256", "PS384", "PS512")
NETSUITE_KEY_RULE = (
    "NetSuite accepts RSA keys of 3072 or 4096 bits and EC keys on the curves P-256, P-384 or P-521"
)

# An RSA 4096 key in PEM is about 3.3 KB, 3.5 KB encrypted: twice that leaves room for
# comments and a certificate pasted along, and bounds what any key can make OpenSSL do.
MAX_PRIVATE_KEY_PEM_CHARS = 8 * 1024

_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)

DAMAGED_KEY = (
    "This private key could not be read: the PEM text is damaged or incomplete. "
    "Paste the whole file, including the BEGIN and END lines."
)
_READABLE_LABELS = ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")
KEY_IS_ENCRYPTED = (
    "This private key is encrypted. Enter its passphrase; it is used once to open the key and never stored."
)
KEY_NOT_OPENED = "This passphrase does not open the private key."


class KeyMaterialError(ValueError):
    """A key or certificate problem, with a message fit to show next to the field."""


class PassphraseError(KeyMaterialError):
    """The key is encrypted and the passphrase is missing or wrong."""


@sensitive_variables()
def normalize_pem(text: str) -> str:
    """Repair the ways PEM gets mangled on its way through clipboards and JSON.

    Literal "\\n" sequences, Windows line ends, surrounding quotes and lost
    newlines (the whole block on one line) are all seen in practice.
    """
    text = text.strip().strip("\"'").replace("\\r\\n", "\n").replace("\\n", "\n")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = []
    for match in _PEM_BLOCK.finditer(text):
        label, body = match.group(1), match.group(2)
        if ":" in body:
            # Traditional encrypted keys carry Proc-Type/DEK-Info headers: keep as is.
            blocks.append(match.group(0).strip())
            continue
        data = "".join(body.split())
        lines = [data[i : i + 64] for i in range(0, len(data), 64)]
        blocks.append("\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]))
    return "\n".join(blocks) + "\n" if blocks else text


def describe_key(key: object) -> str:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"a {key.key_size}-bit RSA key"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        name = ALLOWED_CURVES.get(key.curve.name, key.curve.name)
        return f"an EC key on the curve {name}"
    kind = type(key).__name__.removeprefix("_").replace("PrivateKey", "").replace("PublicKey", "")
    return f"an {kind} key" if kind[:1] in "AEIOU" else f"a {kind} key"


@sensitive_variables()
def load_private_key(pem: str, passphrase: str = "") -> PrivateKey:
    """Load and fully check a pasted private key; raise KeyMaterialError with a message for the user.

    What opening the key costs (its passphrase stretching, its size) is read from its DER
    first, so OpenSSL's expensive steps only ever run for keys NetSuite accepts."""
    if len(pem) > MAX_PRIVATE_KEY_PEM_CHARS:
        raise KeyMaterialError(
            f"This is {len(pem):,} characters; a private key in PEM is at most "
            f"{MAX_PRIVATE_KEY_PEM_CHARS:,} (an RSA 4096 key is about 3,300). Paste only the private key."
        )
    if len(passphrase) > limits.MAX_PASSPHRASE_CHARS:
        raise PassphraseError(
            f"This passphrase is {len(passphrase):,} characters; nsconnect opens keys whose "
            f"passphrase is at most {limits.MAX_PASSPHRASE_CHARS:,}."
        )
    if "-----BEGIN" not in pem:
        raise KeyMaterialError(
            "This is not a PEM private key: it should start with "
            '"-----BEGIN PRIVATE KEY-----" (or "BEGIN RSA/EC PRIVATE KEY").'
        )
    if "CERTIFICATE-----" in pem and "PRIVATE KEY-----" not in pem:
        raise KeyMaterialError("This is a certificate, not a private key: paste it under Certificate.")
    if "PUBLIC KEY-----" in pem and "PRIVATE KEY-----" not in pem:
        raise KeyMaterialError("This is a public key: paste the private key that belongs to the certificate.")
    block = _private_key_block(pem)
    password = passphrase.encode() if passphrase else None
    try:
        if block.label == "ENCRYPTED PRIVATE KEY":
            key = _open_encrypted_pkcs8(block.der, password)
        elif block.encrypted:
            key = _open_traditional_encrypted(block, password)
        else:
            key = _load_checked(block.label, block.der)
    except limits.KeyCostError as error:
        raise KeyMaterialError(str(error)) from None
    except DamagedKeyError:
        raise KeyMaterialError(DAMAGED_KEY) from None
    return check_key_allowed(key)


@dataclass(frozen=True)
class _PemBlock:
    """One private key block as pasted: its label, its DER and, for the traditional
    OpenSSL encryption, its Proc-Type and DEK-Info headers."""

    label: str
    der: bytes
    dek_info: str = ""

    @property
    def encrypted(self) -> bool:
        return bool(self.dek_info) or self.label == "ENCRYPTED PRIVATE KEY"

    def pem(self) -> bytes:
        """The block rebuilt from what was read, so OpenSSL sees exactly what was checked."""
        body = base64.b64encode(self.der).decode()
        lines = [f"-----BEGIN {self.label}-----"]
        if self.dek_info:
            lines += ["Proc-Type: 4,ENCRYPTED", f"DEK-Info: {self.dek_info}", ""]
        lines += [body[i : i + 64] for i in range(0, len(body), 64)]
        lines.append(f"-----END {self.label}-----")
        return ("\n".join(lines) + "\n").encode()


def _private_key_block(pem: str) -> _PemBlock:
    """The one private key block of the text, with its label checked and its base64 decoded."""
    blocks = [match for match in _PEM_BLOCK.finditer(pem) if match.group(1).endswith("PRIVATE KEY")]
    if not blocks:
        raise KeyMaterialError(DAMAGED_KEY)
    if len(blocks) > 1:
        raise KeyMaterialError(
            f"This text holds {len(blocks)} private keys: paste only the one whose certificate is "
            "uploaded to NetSuite."
        )
    label, body = blocks[0].group(1), blocks[0].group(2)
    if label == "OPENSSH PRIVATE KEY":
        raise KeyMaterialError(
            "This is an OpenSSH private key. Convert it to PEM (PKCS#8) first: "
            "ssh-keygen -p -m PKCS8 -f KEYFILE rewrites the file in place (keep a copy), then paste it."
        )
    if label == "DSA PRIVATE KEY":
        raise KeyMaterialError(f"{NETSUITE_KEY_RULE}; this is a DSA key.")
    if label not in _READABLE_LABELS:
        raise KeyMaterialError(
            f'This is a "{label}" block, which nsconnect does not read: paste a PEM private key '
            '("BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY" or "BEGIN EC PRIVATE KEY").'
        )
    headers: dict[str, str] = {}
    lines = body.strip().split("\n")
    if lines and ":" in lines[0]:
        while lines and lines[0].strip():
            name, _, value = lines.pop(0).partition(":")
            headers[name.strip()] = value.strip()
    dek_info = ""
    if headers:
        # Traditional OpenSSL encryption: its key derivation is one MD5, cheap whatever it says.
        if headers.get("Proc-Type", "").replace(" ", "") != "4,ENCRYPTED" or "DEK-Info" not in headers:
            raise KeyMaterialError(DAMAGED_KEY)
        if label not in ("RSA PRIVATE KEY", "EC PRIVATE KEY"):
            raise KeyMaterialError(DAMAGED_KEY)
        dek_info = headers["DEK-Info"]
    try:
        der = binascii.a2b_base64("".join("".join(lines).split()), strict_mode=True)
    except ValueError:  # binascii.Error, or a character that is not ASCII (a typographic dash)
        raise KeyMaterialError(DAMAGED_KEY) from None
    return _PemBlock(label=label, der=der, dek_info=dek_info)


def _load_checked(label: str, der: bytes) -> PrivateKeyTypes:
    """Load an unencrypted key with OpenSSL's full check, once its DER shows a key NetSuite accepts."""
    if label == "PRIVATE KEY":
        limits.check_private_key_info(der, allowed_rsa_sizes=ALLOWED_RSA_SIZES, rule=NETSUITE_KEY_RULE)
    elif label == "RSA PRIVATE KEY":
        limits.check_rsa_private_key(der, allowed_rsa_sizes=ALLOWED_RSA_SIZES, rule=NETSUITE_KEY_RULE)
    # An EC key is cheap to open; its curve is checked once loaded. OpenSSL reads the block
    # by its label, so a key labelled EC is never read as RSA.
    return _load_measured(label, der)


def _load_measured(label: str, der: bytes) -> PrivateKeyTypes:
    """Load, with OpenSSL's full check, a key whose DER was already measured."""
    try:
        return serialization.load_pem_private_key(_PemBlock(label=label, der=der).pem(), password=None)
    except ValueError:
        raise KeyMaterialError(DAMAGED_KEY) from None
    except UnsupportedAlgorithm:
        raise KeyMaterialError(f"This key type is not supported. {NETSUITE_KEY_RULE}.") from None


def _open_encrypted_pkcs8(der: bytes, password: bytes | None) -> PrivateKeyTypes:
    """Open an encrypted PKCS#8 key here, so both its cost and the key inside are known
    before OpenSSL builds anything."""
    encrypted = limits.read_encrypted_private_key(der)
    if password is None:
        raise PassphraseError(KEY_IS_ENCRYPTED)
    try:
        inner = limits.decrypt_private_key(encrypted, password)
        # What a wrong passphrase decrypts to is no key at all, and fails here.
        limits.check_private_key_info(inner, allowed_rsa_sizes=ALLOWED_RSA_SIZES, rule=NETSUITE_KEY_RULE)
    except DamagedKeyError:
        raise PassphraseError(KEY_NOT_OPENED) from None
    return _load_measured("PRIVATE KEY", inner)


def _open_traditional_encrypted(block: _PemBlock, password: bytes | None) -> PrivateKeyTypes:
    """Open a key with OpenSSL's traditional encryption (Proc-Type/DEK-Info): decrypted without
    the RSA check, measured, and only then fully checked."""
    if password is None:
        raise PassphraseError(KEY_IS_ENCRYPTED)
    try:
        key = serialization.load_pem_private_key(
            block.pem(), password=password, unsafe_skip_rsa_key_validation=True
        )
    except ValueError:
        raise PassphraseError(KEY_NOT_OPENED) from None
    except UnsupportedAlgorithm:
        raise KeyMaterialError(
            f"This private key is encrypted with a cipher nsconnect does not open. {limits.HOW_TO_REENCRYPT}."
        ) from None
    # Measured as loaded: only a key NetSuite accepts goes on to the full check.
    checked = check_key_allowed(key)
    unencrypted = checked.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return _load_measured("PRIVATE KEY", unencrypted)


def check_key_allowed(key: object) -> PrivateKey:
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size in ALLOWED_RSA_SIZES:
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in ALLOWED_CURVES:
        return key
    raise KeyMaterialError(f"{NETSUITE_KEY_RULE}; this is {describe_key(key)}.")


def algorithms_for_key(key: PrivateKey) -> tuple[str, ...]:
    if isinstance(key, rsa.RSAPrivateKey):
        return RSA_ALGORITHMS
    return (ALGORITHM_FOR_CURVE[ALLOWED_CURVES[key.curve.name]],)


def check_algorithm(algorithm: str, key: PrivateKey) -> None:
    allowed = algorithms_for_key(key)
    if algorithm not in allowed:
        choice = " or ".join(allowed)
        raise KeyMaterialError(f"{algorithm} cannot be used with {describe_key(key)}: choose {choice}.")


@sensitive_variables()
def serialize_private_key(key: PrivateKey) -> str:
    """PKCS#8, unencrypted: the passphrase is never stored; our field encrypts it."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
