"""`python manage.py rotate_encryption_keys`: every stored secret re-encrypted with the first of
NSCONNECT_ENCRYPTION_KEYS, batch by batch, and `--check` naming what the keys cannot decrypt."""

from __future__ import annotations

from dataclasses import dataclass
from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection

from authentications.models import AccessToken, SigningKey
from authentications.services import encryption_rotation

pytestmark = pytest.mark.django_db

KEY_LINE = "authentications.SigningKey.private_key"
TOKEN_LINE = "authentications.AccessToken.value"
ROTATED = (
    "Every stored value is now encrypted with the first key of NSCONNECT_ENCRYPTION_KEYS. "
    "Check with that key alone (rotate_encryption_keys --check) before removing the others."
)


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def run(*args: str) -> Run:
    """The command as manage.py runs it: a CommandError is its message on stderr and exit status 1."""
    out, err = StringIO(), StringIO()
    try:
        call_command("rotate_encryption_keys", *args, stdout=out, stderr=err)
    except CommandError as error:
        err.write(f"CommandError: {error}\n")
        return Run(error.returncode, out.getvalue(), err.getvalue())
    return Run(0, out.getvalue(), err.getvalue())


def raw(model: Any) -> dict[int, str]:
    """Each record's encrypted column exactly as the database holds it."""
    column = "private_key" if model is SigningKey else "value"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {column} FROM {model._meta.db_table}")  # noqa: S608  (fixed names)
        return dict(cursor.fetchall())


def raw_everything() -> dict[tuple[str, int], str]:
    return {
        (model.__name__, pk): value for model in (SigningKey, AccessToken) for pk, value in raw(model).items()
    }


def set_raw(model: Any, pk: int, value: str) -> None:
    column = "private_key" if model is SigningKey else "value"
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {model._meta.db_table} SET {column} = %s WHERE id = %s", [value, pk])  # noqa: S608


def read_by_the_app() -> dict[tuple[str, int], str]:
    """What the application reads, through the fields, with the keys set now."""
    keys = {("SigningKey", key.pk): key.private_key for key in SigningKey.objects.order_by("pk")}
    tokens = {("AccessToken", token.pk): token.value for token in AccessToken.objects.order_by("pk")}
    return keys | tokens


def opens(key: str, ciphertext: str) -> bool:
    try:
        Fernet(key).decrypt(ciphertext)
    except InvalidToken:
        return False
    return True


@dataclass
class Keys:
    old: str
    new: str


@pytest.fixture
def keys(settings) -> Keys:
    """The key everything was encrypted with (made by conftest as the tests run) and a new one."""
    return Keys(old=settings.NSCONNECT_ENCRYPTION_KEYS[0], new=Fernet.generate_key().decode())


@pytest.fixture
def secrets_stored(authentication_in_state) -> dict[tuple[str, int], str]:
    """GIVEN three authentications with a private key and a token each, and a fourth whose key
    was wiped (an empty value), all under the old key; returns what the app reads."""
    for number in (1, 2, 3):
        authentication_in_state(f"Acme {number}", token_seconds=3600)
    wiped = authentication_in_state("Acme wiped")
    SigningKey.objects.filter(authentication=wiped).update(private_key="")
    plaintext = read_by_the_app()
    assert len(plaintext) == 7 and sum(1 for value in plaintext.values() if value) == 6
    return plaintext


def test_it_reencrypts_every_value_with_the_new_key_and_the_app_reads_the_same_secrets(
    settings, keys, secrets_stored
):
    """GIVEN secrets stored under the old key WHEN the new key is put first and the command runs
    THEN every stored value decrypts with the new key alone, to the same secret, and the counts
    per model and field are printed."""
    settings.NSCONNECT_ENCRYPTION_KEYS = [keys.new, keys.old]

    result = run("--batch-size=2")

    assert result.code == 0, result.err
    assert result.lines == [
        f"{KEY_LINE}: 3 re-encrypted, 0 already current, 1 empty.",
        f"{TOKEN_LINE}: 3 re-encrypted, 0 already current, 0 empty.",
        ROTATED,
    ]
    stored = raw_everything()
    for place, ciphertext in stored.items():
        if secrets_stored[place]:
            assert Fernet(keys.new).decrypt(ciphertext).decode() == secrets_stored[place]
        else:
            assert ciphertext == ""
    settings.NSCONNECT_ENCRYPTION_KEYS = [keys.new]
    assert read_by_the_app() == secrets_stored
    assert any("BEGIN PRIVATE KEY" in value for value in secrets_stored.values())


def test_check_with_the_new_key_alone_names_every_record_before_rotation_and_passes_after(
    settings, keys, secrets_stored
):
    """GIVEN secrets under the old key WHEN --check runs with the new key alone THEN it names each
    record (model, primary key, field), exits 1 and changes nothing; after the rotation the same
    check passes."""
    before = raw_everything()
    settings.NSCONNECT_ENCRYPTION_KEYS = [keys.new]

    refused = run("--check")

    assert refused.code == 1
    assert refused.lines == [
        f"{KEY_LINE}: 0 with the first key, 0 only with a later key, 1 empty, 3 that no key decrypts.",
        f"{TOKEN_LINE}: 0 with the first key, 0 only with a later key, 0 empty, 3 that no key decrypts.",
    ]
    named = [
        f"authentications.{model} {pk}, field {'private_key' if model == 'SigningKey' else 'value'}: "
        "no key in NSCONNECT_ENCRYPTION_KEYS decrypts it."
        for (model, pk), value in secrets_stored.items()
        if value
    ]
    assert refused.err.splitlines()[:-1] == named
    assert refused.err.splitlines()[-1].startswith("CommandError: 6 values cannot be decrypted")
    assert raw_everything() == before

    settings.NSCONNECT_ENCRYPTION_KEYS = [keys.new, keys.old]
    assert run().code == 0
    settings.NSCONNECT_ENCRYPTION_KEYS = [keys.new]
    passed = run("--check")

    assert passed.code == 0, passed.err
    assert passed.lines == [
        f"{KEY_LINE}: 3 with the first key, 0 only with a later key, 1 empty.",
        f"{TOKEN_LINE}: 3 with the first key, 0 only with a later key, 0 empty.",
        "All 6 stored values decrypt with NSCONNECT_ENCRYPTION_KEYS.",
    ]
    assert passed.err == ""


def test_check_with_both_keys_passes_says_what_still_needs_the_old_key_and_changes_nothing(
    settings, keys, secrets_stored
):
    """GIVEN secrets under the old key and the new key put first WHEN --check runs THEN it passes
    (everything decrypts), says the old key is still needed, and no stored value changed."""
    before = raw_everything()
    settings.NSCONNECT_ENCRYPTION_KEYS = [keys.new, keys.old]

    result = run("--check", "--batch-size=2")

    assert result.code == 0, result.err
    assert result.lines == [
        f"{KEY_LINE}: 0 with the first key, 3 only with a later key, 1 empty.",
        f"{TOKEN_LINE}: 0 with the first key, 3 only with a later key, 0 empty.",
        "All 6 stored values decrypt with NSCONNECT_ENCRYPTION_KEYS. 6 values still need a key "
        "after the first: run rotate_encryption_keys before removing it.",
    ]
    assert raw_everything() == before


class MachineWentDown(Exception):
    pass


def test_an_interrupted_run_keeps_its_finished_batches_and_a_rerun_finishes_the_rest(
    settings, keys, secrets_stored, monkeypatch
):
    """GIVEN batches of 2 WHEN the run fails in its 2nd batch, just after re-encrypting a value
    THEN the 1st batch stays re-encrypted, nothing of the 2nd is, and a second run re-encrypts
    the rest, counting the first batch as already current."""
    settings.NSCONNECT_ENCRYPTION_KEYS = [keys.new, keys.old]
    write = encryption_rotation.write_ciphertext
    writes = []

    def write_then_fail_in_the_second_batch(*args: Any, **kwargs: Any) -> bool:
        written = write(*args, **kwargs)
        writes.append(args[1])
        if len(writes) == 3:  # the 2nd batch's first key: the 1st batch holds two keys
            raise MachineWentDown
        return written

    monkeypatch.setattr(encryption_rotation, "write_ciphertext", write_then_fail_in_the_second_batch)
    with pytest.raises(MachineWentDown):
        run("--batch-size=2")
    monkeypatch.undo()

    first_batch, second_batch_start = writes[:2], writes[2]
    stored_keys = raw(SigningKey)
    assert [opens(keys.new, stored_keys[pk]) for pk in first_batch] == [True, True]
    assert not opens(keys.new, stored_keys[second_batch_start])
    assert not any(opens(keys.new, value) for value in raw(AccessToken).values())

    rerun = run("--batch-size=2")

    assert rerun.code == 0, rerun.err
    assert rerun.lines == [
        f"{KEY_LINE}: 1 re-encrypted, 2 already current, 1 empty.",
        f"{TOKEN_LINE}: 3 re-encrypted, 0 already current, 0 empty.",
        ROTATED,
    ]
    settings.NSCONNECT_ENCRYPTION_KEYS = [keys.new]
    assert read_by_the_app() == secrets_stored


def test_a_value_saved_while_rotating_is_never_overwritten_with_an_older_one(
    settings, keys, secrets_stored, monkeypatch
):
    """GIVEN a web process still on the old key WHEN it saves a new token between the command's
    read and its write THEN the command keeps the new token (re-encrypted), not the old one."""
    settings.NSCONNECT_ENCRYPTION_KEYS = [keys.new, keys.old]
    token = AccessToken.objects.order_by("pk").first()
    write = encryption_rotation.write_ciphertext

    def web_app_saves_first(column: Any, pk: Any, **kwargs: Any) -> bool:
        if column.model is AccessToken and pk == token.pk and not saved:
            settings.NSCONNECT_ENCRYPTION_KEYS = [keys.old]
            AccessToken.objects.filter(pk=pk).update(value="token saved meanwhile")
            settings.NSCONNECT_ENCRYPTION_KEYS = [keys.new, keys.old]
            saved.append(pk)
        return write(column, pk, **kwargs)

    saved: list[Any] = []
    monkeypatch.setattr(encryption_rotation, "write_ciphertext", web_app_saves_first)

    result = run()

    assert saved == [token.pk]
    assert result.code == 0, result.err
    assert f"{TOKEN_LINE}: 3 re-encrypted, 0 already current, 0 empty." in result.lines
    settings.NSCONNECT_ENCRYPTION_KEYS = [keys.new]
    assert AccessToken.objects.get(pk=token.pk).value == "token saved meanwhile"


@pytest.mark.parametrize(
    "unreadable",
    ["lost key", "not ascii"],
)
def test_a_value_no_key_decrypts_is_named_and_everything_else_is_rotated(
    settings, keys, secrets_stored, unreadable
):
    """GIVEN one private key encrypted with a key nobody has any more (or a hand-edited value
    that is not even ASCII) WHEN the command runs THEN it names that record, rotates every
    other value and exits non-zero."""
    lost = SigningKey.objects.exclude(private_key="").order_by("pk")[1]
    lost_ciphertext = (
        Fernet(Fernet.generate_key()).encrypt(b"a secret of a lost key").decode()
        if unreadable == "lost key"
        else "gAAAAAB\u00e9-not-ascii"
    )
    set_raw(SigningKey, lost.pk, lost_ciphertext)
    settings.NSCONNECT_ENCRYPTION_KEYS = [keys.new, keys.old]

    result = run("--batch-size=2")

    assert result.code == 1
    assert result.lines == [
        f"{KEY_LINE}: 2 re-encrypted, 0 already current, 1 empty, 1 that no key decrypts.",
        f"{TOKEN_LINE}: 3 re-encrypted, 0 already current, 0 empty.",
    ]
    assert result.err.splitlines() == [
        f"authentications.SigningKey {lost.pk}, field private_key: no key in "
        "NSCONNECT_ENCRYPTION_KEYS decrypts it.",
        "CommandError: 1 value could not be re-encrypted (named above); every other value was. "
        "A value no key decrypts needs the key that encrypted it back in NSCONNECT_ENCRYPTION_KEYS "
        "(after the first), then a new run.",
    ]
    stored = raw_everything()
    assert stored.pop(("SigningKey", lost.pk)) == lost_ciphertext
    assert all(opens(keys.new, value) for value in stored.values() if value)


def test_its_output_holds_no_secret_no_key_and_no_ciphertext(settings, keys, secrets_stored):
    """GIVEN stored secrets, one of them under a lost key WHEN every mode of the command runs,
    failing and passing THEN nothing it prints holds a secret, a key or a stored value."""
    lost_key = Fernet.generate_key().decode()
    lost = SigningKey.objects.exclude(private_key="").order_by("pk").first()
    set_raw(
        SigningKey,
        lost.pk,
        Fernet(lost_key).encrypt(secrets_stored[("SigningKey", lost.pk)].encode()).decode(),
    )
    printed = []
    for keys_set, args in (
        ([keys.new], ("--check",)),
        ([keys.new, keys.old], ("--check",)),
        ([keys.new, keys.old], ()),
        ([keys.new], ("--check",)),
        ([keys.new, lost_key], ()),
        ([keys.new], ("--check",)),
    ):
        settings.NSCONNECT_ENCRYPTION_KEYS = keys_set
        result = run(*args)
        printed.append(result.out + result.err)
    output = "\n".join(printed)

    assert "no key in NSCONNECT_ENCRYPTION_KEYS decrypts it" in output  # a failure was reported
    secrets = [value for value in secrets_stored.values() if value]
    pem_lines = [line for value in secrets for line in value.splitlines() if "-----" not in line]
    for forbidden in [*secrets, *pem_lines, keys.old, keys.new, lost_key, "gAAAAA"]:
        assert forbidden not in output


def test_a_batch_size_below_one_is_refused():
    assert run("--batch-size=0").code == 1
