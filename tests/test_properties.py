"""Hostile input, generated: whatever is typed, pasted or uploaded into the parsers of the HTTP
Authentication form (the private key and certificate reader, the token URL, the account ID, the
scopes and the alert recipients) gives a clean field error or a valid result, never an exception
(a 500). And what is accepted holds together: a URL is sent where it was read to point, an account
ID makes a token URL the form accepts, a recipient list can be mailed as listed.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import string
from functools import cache
from typing import Any

import pytest
import requests
import urllib3.util
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import sanitize_address
from hypothesis import assume, example, given, note
from hypothesis import strategies as st

from authentications.forms import field_rules
from authentications.keys import certificates, limits, pasted, private_keys
from authentications.netsuite import assertion, token_urls
from tests import craftedkeys, keyfactory
from tests import hypothesis_profiles as hypothesis_profiles  # noqa: F401  (loads the profile)

TOKEN_PATH = token_urls.TOKEN_PATH
SUITETALK = ".suitetalk.api.netsuite.com"


def assert_clean_message(error: Exception) -> None:
    """A refusal fit for a field: a short, plain message (not a repr, not a traceback)."""
    messages = error.messages if isinstance(error, forms.ValidationError) else [str(error)]
    assert messages and all(message.strip() for message in messages), repr(error)
    for message in messages:
        assert len(message) < 1000, message[:200]
        assert "Traceback" not in message and "object at 0x" not in message


# --- URLs ------------------------------------------------------------------------------------

# Characters parsers disagree about: each has fooled some URL parser into another host.
HOSTILE_CHARACTERS = [
    "\\", "@", "%", "#", "?", ":", "/", ".", "[", "]", " ", "\t", "\n", "\r", "\x00", "\x7f",
    "\u3002", "\uff0e", "\uff61", "\u2024", "\ufe52", "\u200b", "\u00a0", "\uff20", "\uff0f",
    "\u2100", "\u0130", "\u212a", "\uff11", "\u0661", "_", "-", "~", "&", "=", ";", ",", "'", '"',
]  # fmt: skip
hostile_character = st.sampled_from(HOSTILE_CHARACTERS)
label = st.text(alphabet=string.ascii_lowercase + string.digits + "-_", min_size=1, max_size=12)
account_label = st.one_of(
    st.from_regex(r"[0-9]{6,8}(-sb[0-9])?", fullmatch=True),
    st.from_regex(r"[0-9]{6,8}(_SB[0-9])?", fullmatch=True),
    label,
)
ipv4 = st.integers(0, 2**32 - 1).map(lambda n: ".".join(str(n >> s & 255) for s in (24, 16, 8, 0)))

# A URL is built from parts, each as it should be or, for one or two of them, hostile: so that
# most URLs get past the first refusal and what is accepted is often close to what is not.
GOOD_PARTS = {
    "scheme": st.sampled_from(["https", "http", "HTTPS"]),
    "separator": st.just("://"),
    "user": st.just(""),
    "host": st.one_of(
        account_label.map(lambda account: account + SUITETALK),
        account_label.map(lambda account: account + ".restlets.api.netsuite.com"),
        st.builds("{}.{}.com".format, label, label),
        ipv4,
        st.sampled_from(["localhost", "[::1]", "[2001:db8::1]", "[::ffff:7f00:1]"]),
    ),
    "port": st.one_of(st.just(""), st.integers(1, 65535).map(":{}".format)),
    "path": st.one_of(
        st.just(TOKEN_PATH),
        st.lists(st.text(alphabet=string.ascii_letters + string.digits + "._~-", min_size=1, max_size=8)).map(
            lambda segments: "".join("/" + segment for segment in segments)
        ),
    ),
    "rest": st.just(""),
}


@st.composite
def mangled(draw: Any, base: st.SearchStrategy[str]) -> str:
    """A string with hostile characters put in, replacing, or cut out, anywhere."""
    text = draw(base)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "replace", "delete"]))
        if action == "insert":
            text = text[:at] + draw(hostile_character) + text[at:]
        elif action == "replace":
            text = text[:at] + draw(hostile_character) + text[at + 1 :]
        else:
            text = text[:at] + text[at + 1 :]
    return text


HOSTILE_PARTS = {
    "scheme": st.sampled_from(["hTtPs", "ftp", "javascript", "", "https:", "h ttps", "https\t"]),
    "separator": st.sampled_from([":/", ":\\", "://\\", ":///", "//", ":", ":\\\\"]),
    "user": st.sampled_from(["user@", "a:b@", "@", "evil.example@", "%40@", "1234567" + SUITETALK + "@"]),
    "host": st.one_of(
        mangled(GOOD_PARTS["host"]),
        st.sampled_from(
            [
                "127.1",
                "0x7f.0.0.1",
                "0177.0.0.1",
                "2130706433",
                "0",
                "[0:0:0:0:0:0:0:1]",
                "[::FFFF:7f00:1]",
                "[::ffff:127.0.0.1]",
                "[fe80::1%25eth0]",
                "[v1.x]",
                "[::1",
                "::1",
                "[]",
                "",
                "1234567" + SUITETALK + ".",
                "1234567\u3002suitetalk.api.netsuite.com",
                "1234567" + SUITETALK.upper(),
                "evil.example#" + "1234567" + SUITETALK,
                "xn--1234567-9ya" + SUITETALK,
                "1234567" + SUITETALK.replace(".", "%2e"),
                "a..b",
            ]
        ),
    ),
    "port": st.one_of(
        st.integers(0, 70000).map(lambda n: f":{n:05d}"),
        st.integers(65536, 10**6).map(":{}".format),
        st.sampled_from(
            [":", ":0", ":0443", ":+443", ": 443", ":\u0664\u0664\u0663", ":1e3", ":443:443", ":-1"]
        ),
    ),
    "path": st.one_of(
        st.sampled_from(
            ["//evil.example/x", TOKEN_PATH + "/..", "/%2e%2e/x", "/a/%2E%2e/b", "/a//b", "/./x"]
        ),
        st.sampled_from(["/%2e%2e/x", "/a/%2E%2e/b", "/a/%2F/b", "/a%20b", "/%7e"]),
        st.lists(st.text(alphabet=string.ascii_letters + "%@!$&'()*+,;=:", max_size=8), min_size=1).map(
            lambda segments: "".join("/" + segment for segment in segments)
        ),
    ),
    "rest": st.sampled_from(["?x=1", "#frag", "?", "#", "\\@evil.example", "@evil.example", " ", "\n"]),
}


@st.composite
def url_like(draw: Any) -> str:
    count = draw(st.sampled_from([0, 1, 1, 1, 2]))
    hostile = draw(st.sets(st.sampled_from(sorted(GOOD_PARTS)), min_size=count, max_size=count))
    return "".join(draw((HOSTILE_PARTS if part in hostile else GOOD_PARTS)[part]) for part in GOOD_PARTS)


any_url = st.one_of(url_like(), url_like(), mangled(url_like()), st.text(max_size=80))


def sent_to(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) that urllib3, and so requests, would connect to for this URL."""
    parsed = urllib3.util.parse_url(url)
    scheme = (parsed.scheme or "").lower()
    return scheme, (parsed.host or "").lower(), parsed.port or token_urls.DEFAULT_PORTS.get(scheme, 0)


def assert_sent_where_read(text: str, endpoint: token_urls.Endpoint) -> None:
    """The URL as typed, the URL as rebuilt and the request requests prepares from it all go to
    the endpoint that was checked. (Spaces around a URL are not part of it: the form strips them.)"""
    where = (endpoint.scheme, endpoint.host, endpoint.port)
    typed = text.strip()
    assert sent_to(typed) == where, f"{typed!r} is sent to {sent_to(typed)}, read as {where}"
    assert sent_to(endpoint.url) == where
    prepared = requests.Request("POST", endpoint.url).prepare()
    assert prepared.url == endpoint.url
    assert sent_to(prepared.url) == where


# Spellings that have sent other parsers to another host than the one checked.
CONFUSING_URLS = [
    f"https://1234567{SUITETALK}\\@evil.example{TOKEN_PATH}",
    f"https://evil.example#@1234567{SUITETALK}{TOKEN_PATH}",
    f"https://1234567{SUITETALK}@evil.example{TOKEN_PATH}",
    f"https://evil.example%2f@1234567{SUITETALK}{TOKEN_PATH}",
    f"https://1234567{SUITETALK}:443:80{TOKEN_PATH}",
    f"https://1234567\u3002suitetalk.api.netsuite.com{TOKEN_PATH}",
    f"https:/\\1234567{SUITETALK}{TOKEN_PATH}",
    f"https://[::ffff:127.0.0.1]{TOKEN_PATH}",
    # Found by the property below: read as [::1], which urllib3 refuses.
    f"https://[::1{TOKEN_PATH}",
]


@given(any_url)
@example(CONFUSING_URLS[0])
@example(CONFUSING_URLS[1])
@example(CONFUSING_URLS[2])
@example(CONFUSING_URLS[3])
@example(CONFUSING_URLS[4])
@example(CONFUSING_URLS[5])
@example(CONFUSING_URLS[6])
@example(CONFUSING_URLS[7])
@example(CONFUSING_URLS[8])
def test_any_url_is_parsed_or_refused_with_a_message(text):
    """GIVEN any text as an Authentication URL WHEN it is parsed THEN it is refused with a
    message, or it parses to an endpoint that is rebuilt to itself and that urllib3 (and so
    requests) would connect to as well."""
    try:
        endpoint = token_urls.parse_url(text)
    except token_urls.ProtocolValueError as error:
        assert_clean_message(error)
        return
    note(f"endpoint: {endpoint}")
    assert token_urls.parse_url(endpoint.url) == endpoint
    assert endpoint.url == endpoint.url.strip()
    assert_sent_where_read(text, endpoint)


@pytest.mark.django_db
@given(any_url)
def test_any_token_url_is_checked_or_refused_with_a_message(text):
    """GIVEN any text as an Authentication URL WHEN the form's rule checks it THEN it is refused
    with a message, or it is NetSuite's token URL (or an allowlisted origin), rebuilt to a URL that
    checks the same and that requests sends to the host and port that were checked."""
    try:
        url = token_urls.check_token_url(text)
    except token_urls.ProtocolValueError as error:
        assert_clean_message(error)
        return
    endpoint = token_urls.parse_url(text)
    assert url == endpoint.url
    assert token_urls.check_token_url(url) == url
    assert endpoint.allowlisted() or (endpoint.is_netsuite() and endpoint.path == TOKEN_PATH)
    assert_sent_where_read(text, endpoint)


def test_the_url_strategy_reaches_acceptance():
    """The generated URLs are not all refused: some are accepted, so the invariants are exercised."""
    accepted = []

    @given(url_like())
    def collect(text):
        with contextlib.suppress(token_urls.ProtocolValueError):
            accepted.append(token_urls.check_token_url(text))

    collect()
    assert accepted


# --- account IDs, scopes, alert recipients -------------------------------------------------

account_like = st.one_of(
    st.from_regex(r"[0-9A-Za-z]{1,12}(_[A-Za-z0-9]{1,4})?", fullmatch=True),
    mangled(st.from_regex(r"[0-9]{7}(_SB[0-9])?", fullmatch=True)),
    st.text(max_size=50),
)


@pytest.mark.django_db
@given(account_like)
def test_any_account_id_gives_a_token_url_or_a_message(text):
    """GIVEN any text as an Account ID (the form allows 40 characters) WHEN the form's rule
    reads it THEN it is refused with a message, or the token URL made from it is one the
    Authentication URL rule accepts as it is."""
    assume(len(text) <= 40)
    try:
        account = field_rules.account_id(text)
    except forms.ValidationError as error:
        assert_clean_message(error)
        return
    if not account:
        return
    url = token_urls.token_url_for_account(account)
    assert token_urls.check_token_url(url) == url
    assert token_urls.token_url_for_account(field_rules.account_id(account)) == url


scope_like = st.one_of(
    st.lists(
        st.one_of(
            st.sampled_from(["restlets", "rest_webservices", "suite_analytics", "mcp", "RESTLETS", ""]),
            st.text(max_size=10),
        ),
        max_size=5,
    ).flatmap(
        lambda scopes: st.sampled_from([",", ", ", " , ", ",,", ";", "\n"]).map(
            lambda comma: comma.join(scopes)
        )
    ),
    st.text(max_size=100),
)


@given(scope_like)
def test_any_scopes_give_known_scopes_or_a_message(text):
    """GIVEN any text as the scopes WHEN the form's rule reads it THEN it is refused with a
    message, or it gives NetSuite's own scope names, each once, read back as themselves."""
    try:
        cleaned = field_rules.scopes(text)
    except forms.ValidationError as error:
        assert_clean_message(error)
        return
    scopes = cleaned.split(",")
    assert set(scopes) <= {*assertion.SCOPES, assertion.MCP_SCOPE}
    assert len(set(scopes)) == len(scopes)
    assert field_rules.scopes(cleaned) == cleaned


domain = st.one_of(
    st.sampled_from(["example.com", "exämple.com", "[127.0.0.1]", "localhost", "a..b", "x.y"]),
    # Invisible and look-alike characters, which IDNA maps, folds or refuses.
    mangled(st.sampled_from(["example.com", "exämple.com", "b.co"])),
)
address = st.one_of(
    st.emails(),
    st.builds("{}@{}".format, st.text(min_size=1, max_size=12), domain),
    st.sampled_from(['"a b"@example.com', '"a,b"@example.com', "a@example.com>", "<a@example.com>", "a@b@c"]),
)
recipients_like = st.one_of(
    st.lists(address, max_size=4).flatmap(
        lambda addresses: st.sampled_from([",", ", ", ";", "\n", " "]).map(lambda sep: sep.join(addresses))
    ),
    mangled(st.lists(st.emails(), min_size=1, max_size=3).map(", ".join)),
    st.text(max_size=100),
)


# Found by the property below: addresses Django's validator passes that mail cannot send as listed.
UNSENDABLE_RECIPIENTS = [
    "ops@\u200b.example.com",
    "ops@example.co\uff1a",
    "ops@example.co\uff1b, b@example.com",
]


@given(recipients_like)
@example(UNSENDABLE_RECIPIENTS[0])
@example(UNSENDABLE_RECIPIENTS[1])
@example(UNSENDABLE_RECIPIENTS[2])
def test_any_alert_recipients_give_addresses_to_mail_or_a_message(text):
    """GIVEN any text as the alert recipients WHEN the form's rule reads it THEN it is refused
    with a message, or it lists addresses that a mail is sent to exactly as listed (no more
    recipients slipped in through a header, no address that breaks the mail)."""
    try:
        cleaned = field_rules.alert_recipients(text)
    except forms.ValidationError as error:
        assert_clean_message(error)
        return
    assert field_rules.alert_recipients(cleaned) == cleaned
    addresses = [a for a in cleaned.split(", ") if a]
    if not addresses:
        return
    message = EmailMultiAlternatives(subject="s", body="b", to=addresses)
    assert len(email.utils.getaddresses([message.message()["To"]])) == len(addresses)
    assert [sanitize_address(a, "utf-8") for a in message.recipients()]


# --- private keys and certificates ---------------------------------------------------------


@cache
def real_keys() -> dict[str, bytes]:
    """DER of keys NetSuite accepts, to be damaged: made once per run."""
    p256 = keyfactory.private_key("p256")
    rsa = keyfactory.private_key("rsa3072")
    from cryptography.hazmat.primitives import serialization

    traditional = serialization.PrivateFormat.TraditionalOpenSSL
    plain = serialization.NoEncryption()
    der = serialization.Encoding.DER
    return {
        "PRIVATE KEY": craftedkeys.pkcs8_der(p256),
        "RSA PRIVATE KEY": rsa.private_bytes(der, traditional, plain),
        "EC PRIVATE KEY": p256.private_bytes(der, traditional, plain),
        "ENCRYPTED PRIVATE KEY": base64.b64decode(
            "".join(craftedkeys.encrypt(craftedkeys.pkcs8_der(p256), "s3cret").splitlines()[1:-1])
        ),
    }


OIDS = [
    craftedkeys.RSA_ENCRYPTION, "1.2.840.113549.1.1.10", limits.EC_OID, *limits.REFUSED_KEY_TYPES,
    craftedkeys.PBES2, craftedkeys.PBKDF2, craftedkeys.SCRYPT, craftedkeys.PBE_SHA1_3DES,
    *craftedkeys.HMAC_OIDS.values(), "2.16.840.1.101.3.4.1.42", "1.2.840.113549.3.7", "1.2.840.10045.3.1.7",
    "2.5.4.3", "1.2.3",
]  # fmt: skip
# Sizes where things change: 64 bits, a real RSA key, past what Python prints (4,300 digits).
BIT_SIZES = [64, 65, 4096, 14_300, 20_000]
number = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 2, 3, 16, 1024, 65537, 2048, 600_000, 600_001, 2**17, 2**31, 2**64]),
    st.sampled_from(BIT_SIZES).map(lambda bits: (1 << bits) - 1),
)
der_integer = number.map(craftedkeys.integer)
der_oid = st.one_of(
    st.sampled_from(OIDS).map(craftedkeys.oid),
    st.binary(max_size=40).map(lambda b: craftedkeys.tlv(0x06, b)),
    # One arc of up to 2,500 base-128 digits (a number of 17,500 bits).
    st.sampled_from([1, 10, 2500]).map(
        lambda size: craftedkeys.tlv(0x06, b"\x2a" + b"\xff" * size + b"\x01")
    ),
)
der_leaf = st.one_of(
    der_integer,
    der_oid,
    st.binary(max_size=64).map(craftedkeys.octets),
    st.just(b"\x05\x00"),
    st.binary(max_size=16),
)
der_tree = st.recursive(
    der_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=6).map(lambda items: craftedkeys.sequence(*items)),
        children.map(craftedkeys.octets),
    ),
    max_leaves=30,
)


LABELS = [
    "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "CERTIFICATE",
    "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY", "PUBLIC KEY", "X PRIVATE KEY", "",
]  # fmt: skip


@st.composite
def shaped_der(draw: Any) -> tuple[str, bytes]:
    """DER with the outline of a key (PKCS#8, PKCS#1, PBES2) and anything inside it, with the
    PEM label that outline goes under."""
    tree = draw(der_tree)
    shape = draw(st.sampled_from(["tree", "pkcs8", "pkcs1", "pbes2", "pbkdf2", "scrypt"]))
    if shape == "tree":
        return draw(st.sampled_from(LABELS)), tree
    if shape == "pkcs8":
        algorithm = craftedkeys.sequence(draw(der_oid), draw(der_leaf))
        _, inner = draw(shaped_der())
        return "PRIVATE KEY", craftedkeys.sequence(draw(der_integer), algorithm, craftedkeys.octets(inner))
    if shape == "pkcs1":
        return "RSA PRIVATE KEY", craftedkeys.sequence(*draw(st.lists(der_integer, min_size=1, max_size=10)))
    if shape == "pbkdf2":
        # Cheap ones only, or over the limit: a property test must not pay 600,000 rounds often.
        iterations = draw(number.filter(lambda n: n <= 4096 or n > limits.MAX_PBKDF2_ITERATIONS))
        kdf = craftedkeys.pbkdf2_parameters(
            iterations, draw(st.binary(max_size=16)), draw(st.sampled_from(list(craftedkeys.HMAC_OIDS)))
        )
    elif shape == "scrypt":
        n, r, p = draw(number), draw(number), draw(number)
        assume(n * r * p <= 2**14 or n * r * p > limits.MAX_SCRYPT_WORK)
        kdf = craftedkeys.scrypt_parameters(n, r, p, draw(st.binary(max_size=16)))
    else:
        kdf = craftedkeys.sequence(draw(der_oid), tree)
    known = [(oid, size) for oid, _, size in craftedkeys.CIPHERS.values()]
    cipher_oid, iv_size = draw(st.sampled_from([*known, *known, (None, None)]))
    if cipher_oid is None:  # anything, so that the cipher's own checks are reached too
        cipher = craftedkeys.sequence(draw(der_oid), craftedkeys.octets(draw(st.binary(max_size=17))))
    else:  # a cipher nsconnect opens, so that the key derivation's checks are reached
        cipher = craftedkeys.sequence(craftedkeys.oid(cipher_oid), craftedkeys.octets(bytes(iv_size)))
    scheme = craftedkeys.sequence(craftedkeys.oid(craftedkeys.PBES2), craftedkeys.sequence(kdf, cipher))
    ciphertext = draw(st.one_of(st.binary(max_size=80), st.integers(1, 5).map(lambda n: bytes(16 * n))))
    encrypted = craftedkeys.sequence(scheme, craftedkeys.octets(ciphertext))
    return "ENCRYPTED PRIVATE KEY", encrypted


@st.composite
def damaged_real_key(draw: Any) -> tuple[str, bytes]:
    """A key NetSuite accepts with a few bytes changed, cut off or added."""
    label = draw(st.sampled_from(sorted(real_keys())))
    der = bytearray(real_keys()[label])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(der) - 1))
        action = draw(st.sampled_from(["flip", "cut", "grow"]))
        if action == "flip":
            der[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del der[at:]
            if not der:
                der.append(0x30)
        else:
            der[at:at] = draw(st.binary(min_size=1, max_size=4))
    return label, bytes(der)


@st.composite
def pem_like(draw: Any) -> str:
    """PEM framing around random base64, random DER or a damaged real key, framed well or badly."""
    source = draw(st.sampled_from(["shaped", "shaped", "damaged", "bytes", "base64 text"]))
    if source == "damaged":
        label, der = draw(damaged_real_key())
    elif source == "shaped":
        label, der = draw(shaped_der())
        label = draw(st.sampled_from([label, label, label, *LABELS]))
    else:
        label, der = draw(st.sampled_from(LABELS)), draw(st.binary(max_size=600))
    body = base64.b64encode(der).decode()
    if source == "base64 text":
        # A copy from a web page or a word processor brings dashes, accents and invisible spaces.
        body = draw(
            st.text(alphabet=string.ascii_letters + string.digits + "+/=\n \t:-–é\u00a0\u200b", max_size=400)
        )
    # Half framed as OpenSSL writes it, so that what is inside is read; half framed badly.
    framed_well = draw(st.booleans())
    width = 64 if framed_well else draw(st.sampled_from([64, 76, 10_000, 3]))
    lines = [body[i : i + width] for i in range(0, len(body), width)]
    if (
        not framed_well
        and label in ("RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY")
        and draw(st.booleans())
    ):
        headers = draw(
            st.sampled_from(
                [
                    ["Proc-Type: 4,ENCRYPTED", "DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF", ""],
                    ["Proc-Type: 4,ENCRYPTED", "DEK-Info: DES-EDE3-CBC,0011223344556677", ""],
                    ["Proc-Type: 4,ENCRYPTED", "DEK-Info: AES-128-CBC,zz", ""],
                    ["Proc-Type: 4,ENCRYPTED", "DEK-Info: ROT13,", ""],
                    ["Proc-Type: 4,ENCRYPTED", "DEK-Info: AES-256-CBC", ""],
                    ["Proc-Type: 4,ENCRYPTED", ""],
                    ["Comment: hello", ""],
                    [":", ""],
                ]
            )
        )
        lines = headers + lines
    end_label = label if framed_well else draw(st.sampled_from([label, "CERTIFICATE", "PRIVATE KEY"]))
    text = "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {end_label}-----"])
    wrap = (
        "plain" if framed_well else draw(st.sampled_from(["crlf", "escaped", "quoted", "twice", "prefixed"]))
    )
    if wrap == "crlf":
        text = text.replace("\n", "\r\n")
    elif wrap == "escaped":
        text = text.replace("\n", "\\n")
    elif wrap == "quoted":
        text = f'"{text}"'
    elif wrap == "twice":
        text = text + "\n" + text
    elif wrap == "prefixed":
        text = draw(st.text(max_size=20)) + text + draw(st.text(max_size=20))
    return text


any_pem = st.one_of(pem_like(), pem_like(), mangled(pem_like()), st.text(max_size=200))
passphrase = st.one_of(st.just(""), st.just("s3cret"), st.text(max_size=20))


def read_key(text: str, upload: Any, secret: str) -> private_keys.PrivateKey | None:
    """The private key field as the form reads it: the paste or file, then the key."""
    pem = pasted.read_pem(text, upload, what="private key", required_message="Paste the private key.")
    return private_keys.load_private_key(pem, secret)


def assert_key_or_clean_error(text: str, upload: Any, secret: str) -> None:
    try:
        key = read_key(text, upload, secret)
    except (forms.ValidationError, private_keys.KeyMaterialError) as error:
        assert_clean_message(error)
        return
    assert private_keys.check_key_allowed(key) is key
    assert private_keys.algorithms_for_key(key)


def key_with_oid_arc_bytes(size: int) -> str:
    """A PKCS#8 key naming its algorithm by an OID with one arc of `size` base-128 digits."""
    oid = craftedkeys.tlv(0x06, b"\x2a" + b"\xff" * size + b"\x01")
    algorithm = craftedkeys.sequence(oid, b"\x05\x00")
    return craftedkeys.pem(
        "PRIVATE KEY",
        craftedkeys.sequence(craftedkeys.integer(0), algorithm, craftedkeys.octets(b"\x30\x00")),
    )


def with_typographic_dash(pem: str) -> str:
    """The PEM with one base64 character of its body turned into an en dash, as a word processor does."""
    lines = pem.splitlines()
    lines[1] = lines[1][:10] + "\u2013" + lines[1][11:]
    return "\n".join(lines) + "\n"


# Found by the property below: each raised a ValueError (a 500) instead of a message at the field.
FOUND_KEYS = {
    "a typographic dash in the base64": with_typographic_dash(
        keyfactory.private_pem(keyfactory.private_key("p256"))
    ),
    "an OID too long to print": key_with_oid_arc_bytes(2500),
    "PBKDF2 rounds too many to print": craftedkeys.unopenable(
        craftedkeys.pbkdf2_parameters(2**20_000, b"salt")
    ),
    "an scrypt p too large to print": craftedkeys.unopenable(
        craftedkeys.scrypt_parameters(2, 1, 2**20_000, b"s")
    ),
}


@given(any_pem, passphrase)
@example(FOUND_KEYS["a typographic dash in the base64"], "")
@example(FOUND_KEYS["an OID too long to print"], "")
@example(FOUND_KEYS["PBKDF2 rounds too many to print"], "s3cret")
@example(FOUND_KEYS["an scrypt p too large to print"], "s3cret")
def test_any_pasted_private_key_is_read_or_refused_with_a_message(text, secret):
    """GIVEN any text pasted as a private key, with any passphrase WHEN the form reads it THEN it
    is refused with a message for the field, or it is a key NetSuite accepts."""
    assert_key_or_clean_error(text, None, secret)


@given(st.one_of(st.binary(max_size=300), pem_like().map(str.encode)), passphrase)
def test_any_uploaded_private_key_file_is_read_or_refused_with_a_message(content, secret):
    """GIVEN any bytes uploaded as the private key file WHEN the form reads it THEN it is refused
    with a message for the field, or it is a key NetSuite accepts."""
    assert_key_or_clean_error("", SimpleUploadedFile("key.pem", content), secret)


@given(any_pem)
def test_any_pasted_certificate_is_read_or_refused_with_a_message(text):
    """GIVEN any text pasted as a certificate WHEN the form reads it and matches it with a key
    THEN it is refused with a message for the field, or its facts are read."""
    key = keyfactory.private_key("p256")
    try:
        pem = pasted.read_pem(text, None, what="certificate", required_message="Paste the certificate.")
        facts = certificates.certificate_facts(certificates.load_certificate(pem), key)
    except (forms.ValidationError, private_keys.KeyMaterialError) as error:
        assert_clean_message(error)
        return
    assert facts.not_after > facts.not_before


# --- the bugs these properties found, as examples through the form --------------------------

NEW = "/authentications/new/"


def assert_refused_at(response: Any, field: str, *fragments: str) -> None:
    assert response.status_code == 422
    errors = " ".join(response.context["form"].errors.get(field, []))
    for fragment in fragments:
        assert fragment in errors, f"{fragment!r} not in the {field} errors: {errors!r}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("found", "message"),
    [
        ("a typographic dash in the base64", "the PEM text is damaged or incomplete"),
        ("an OID too long to print", "the PEM text is damaged or incomplete"),
        ("PBKDF2 rounds too many to print", f"PBKDF2 over more than {2**64:,} rounds"),
        ("an scrypt p too large to print", f"p=more than {2**64:,}"),
    ],
)
def test_a_key_that_made_a_server_error_is_refused_at_its_field(
    alice_client, register, form_data, found, message
):
    """GIVEN a pasted key with a non-ASCII character in its base64, an algorithm OID with an arc of
    thousands of digits, or a key derivation asking for a number of rounds (or an scrypt cost)
    longer than Python prints (each was a ValueError, so a 500) WHEN saved THEN the private key
    field says what is wrong, in a message of a readable length."""
    data = form_data(register("p256"), private_key=FOUND_KEYS[found], private_key_passphrase="s3cret")
    response = alice_client.post(NEW, data)
    assert_refused_at(response, "private_key", message)
    assert len(response.context["form"].errors["private_key"][0]) < 1000


@pytest.mark.django_db
@pytest.mark.parametrize(
    "recipients",
    UNSENDABLE_RECIPIENTS,
    ids=["zero-width space in the domain", "full-width colon", "full-width semicolon"],
)
def test_an_alert_recipient_mail_cannot_send_as_listed_is_refused(
    alice_client, register, form_data, recipients
):
    """GIVEN an alert recipient whose domain holds a zero-width space (the mail would fail for the
    whole list) or a full-width ":" or ";" (which IDNA turns into a plain one, so no address)
    WHEN saved THEN the field names the address."""
    response = alice_client.post(NEW, form_data(register("p256"), alert_recipients=recipients))
    bad = recipients.split(",")[0]
    assert_refused_at(response, "alert_recipients", f"{bad} is not an email address.")


@pytest.mark.django_db
def test_an_ipv6_host_left_open_is_refused_at_its_field(alice_client, register, form_data):
    """GIVEN an Authentication URL whose IPv6 host is opened with "[" and never closed (it was read
    as if closed, while requests refuses it) WHEN saved THEN the field says what is missing."""
    response = alice_client.post(NEW, form_data(register("p256"), token_url=f"https://[::1{TOKEN_PATH}"))
    assert_refused_at(response, "token_url", 'opens an IPv6 address with "[" but never closes it')
