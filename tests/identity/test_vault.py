"""Identity vault: round trips, tamper detection, binding, rotation, key file, blind index."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livegate.identity.errors import (
    VaultError,
    VaultFormatError,
    VaultIntegrityError,
    VaultKeyFileInsecure,
    VaultKeyFileInvalid,
    VaultKeyNotFound,
)
from livegate.identity.vault import (
    FIELD_DOCUMENT_NUMBER,
    FIELD_PHONE,
    FIELD_REAL_NAME,
    FileKeyProvider,
    IdentityVault,
    RemoteKeyWrapper,
    SealedValue,
    StaticKeyProvider,
    mask_document,
    mask_name,
    normalize_for_index,
    rewrap,
)

NAME = "张三丰"
ID_NUMBER = "11010519491231002X"


@pytest.fixture
def vault() -> IdentityVault:
    return IdentityVault(StaticKeyProvider.generate())


@pytest.mark.parametrize("plain", [NAME, ID_NUMBER, "+8613812345678", "", "买买提·艾力", "x" * 5000])
def test_round_trip(vault: IdentityVault, plain: str) -> None:
    sealed = vault.seal(plain, record_id=42, field=FIELD_REAL_NAME)
    assert vault.open(sealed, record_id=42, field=FIELD_REAL_NAME) == plain
    assert vault.open(sealed.to_bytes(), record_id="42", field=FIELD_REAL_NAME) == plain
    assert vault.open(sealed.to_str(), record_id=42, field=FIELD_REAL_NAME) == plain
    assert SealedValue.from_bytes(sealed.to_bytes()) == sealed
    assert SealedValue.from_str(sealed.to_str()) == sealed


def test_sealed_forms_hide_the_value_and_are_compact(vault: IdentityVault) -> None:
    sealed = vault.seal(ID_NUMBER, record_id=1, field=FIELD_DOCUMENT_NUMBER)
    assert ID_NUMBER.encode() not in sealed.to_bytes()
    assert ID_NUMBER not in sealed.to_str() and ID_NUMBER not in repr(sealed)
    text = sealed.to_str()
    assert text.startswith(f"lv1.{sealed.key_id}.")
    # version+key id+wrapped key (60)+nonce (12)+ciphertext (18)+tag (16), no more.
    assert len(sealed.to_bytes()) == 2 + len(sealed.key_id) + 2 + 60 + 12 + len(ID_NUMBER) + 16


def test_each_seal_is_fresh(vault: IdentityVault) -> None:
    a = vault.seal(NAME, record_id=1, field=FIELD_REAL_NAME)
    b = vault.seal(NAME, record_id=1, field=FIELD_REAL_NAME)
    assert a.ciphertext != b.ciphertext and a.wrapped_key != b.wrapped_key


def test_every_flipped_byte_is_detected(vault: IdentityVault) -> None:
    data = vault.seal(NAME, record_id=7, field=FIELD_REAL_NAME).to_bytes()
    for index in range(len(data)):
        for mask in (0x01, 0x80):
            tampered = bytearray(data)
            tampered[index] ^= mask
            with pytest.raises(VaultError):
                vault.open(bytes(tampered), record_id=7, field=FIELD_REAL_NAME)


def test_every_changed_character_of_the_text_form_is_detected(vault: IdentityVault) -> None:
    text = vault.seal(NAME, record_id=7, field=FIELD_REAL_NAME).to_str()
    for index, char in enumerate(text):
        replacement = "A" if char != "A" else "B"
        with pytest.raises(VaultError):
            vault.open(text[:index] + replacement + text[index + 1 :], record_id=7, field=FIELD_REAL_NAME)


@pytest.mark.parametrize("bad", [b"", b"\x01", b"\x02" + b"\x00" * 100, b"\x01\x05ab"])
def test_truncated_or_unknown_versions_are_format_errors(vault: IdentityVault, bad: bytes) -> None:
    with pytest.raises(VaultFormatError):
        vault.open(bad, record_id=1, field=FIELD_REAL_NAME)


@pytest.mark.parametrize("bad", ["", "lv1.k1", "lv2.k1.AAAA.AAAA", "lv1.k1.AA=A.AAAA", "lv1.k!.AAAA.AAAA"])
def test_malformed_text_forms(vault: IdentityVault, bad: str) -> None:
    with pytest.raises(VaultFormatError):
        vault.open(bad, record_id=1, field=FIELD_REAL_NAME)


def test_bound_to_record_and_field(vault: IdentityVault) -> None:
    sealed = vault.seal(NAME, record_id=7, field=FIELD_REAL_NAME)
    with pytest.raises(VaultIntegrityError):
        vault.open(sealed, record_id=8, field=FIELD_REAL_NAME)
    with pytest.raises(VaultIntegrityError):
        vault.open(sealed, record_id=7, field=FIELD_DOCUMENT_NUMBER)
    # A data key moved from another record's value does not open this ciphertext either.
    other = vault.seal(NAME, record_id=8, field=FIELD_REAL_NAME)
    spliced = SealedValue(sealed.key_id, other.wrapped_key, sealed.nonce, sealed.ciphertext)
    with pytest.raises(VaultIntegrityError):
        vault.open(spliced, record_id=7, field=FIELD_REAL_NAME)


def test_error_messages_hold_no_identity_values(vault: IdentityVault) -> None:
    sealed = vault.seal(ID_NUMBER, record_id=7, field=FIELD_DOCUMENT_NUMBER)
    with pytest.raises(VaultIntegrityError) as info:
        vault.open(sealed, record_id=8, field=FIELD_DOCUMENT_NUMBER)
    assert ID_NUMBER not in str(info.value.to_dict())


def test_unknown_key_id(vault: IdentityVault) -> None:
    sealed = vault.seal(NAME, record_id=1, field=FIELD_REAL_NAME)
    with pytest.raises(VaultKeyNotFound):
        IdentityVault(StaticKeyProvider.generate("k2")).open(sealed, record_id=1, field=FIELD_REAL_NAME)


def test_a_key_with_the_same_id_but_other_bytes_fails_integrity(vault: IdentityVault) -> None:
    sealed = vault.seal(NAME, record_id=1, field=FIELD_REAL_NAME)
    with pytest.raises(VaultIntegrityError):
        IdentityVault(StaticKeyProvider.generate("k1")).open(sealed, record_id=1, field=FIELD_REAL_NAME)


def test_rotation_rewraps_without_touching_the_ciphertext() -> None:
    provider = StaticKeyProvider.generate("old")
    vault = IdentityVault(provider)
    sealed = vault.seal(ID_NUMBER, record_id=5, field=FIELD_DOCUMENT_NUMBER)
    new_id = provider.rotate()
    assert vault.open(sealed, record_id=5, field=FIELD_DOCUMENT_NUMBER) == ID_NUMBER  # old key still there
    moved = rewrap(sealed.to_str(), provider)
    assert moved.key_id == new_id
    assert (moved.nonce, moved.ciphertext) == (sealed.nonce, sealed.ciphertext)
    assert moved.wrapped_key != sealed.wrapped_key
    assert rewrap(moved, provider) is moved  # already current: nothing to do
    provider.retire("old")
    assert provider.key_ids() == (new_id,)
    assert vault.open(moved, record_id=5, field=FIELD_DOCUMENT_NUMBER) == ID_NUMBER
    with pytest.raises(VaultKeyNotFound):
        vault.open(sealed, record_id=5, field=FIELD_DOCUMENT_NUMBER)
    with pytest.raises(ValueError):
        provider.retire(new_id)


def test_new_seals_use_the_current_key() -> None:
    provider = StaticKeyProvider.generate("a")
    vault = IdentityVault(provider)
    new_id = provider.rotate()
    assert vault.seal(NAME, record_id=1, field=FIELD_REAL_NAME).key_id == new_id


# --- key file --------------------------------------------------------------------------


def test_key_file_created_0600_on_first_use(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    provider = FileKeyProvider(data_dir)
    mode = stat.S_IMODE(os.stat(provider.path).st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    assert list(data_dir.iterdir()) == [provider.path]  # no temporary file left behind
    again = FileKeyProvider(data_dir)
    assert again.current_key_id() == provider.current_key_id()
    assert again.master_key(provider.current_key_id()) == provider.master_key(provider.current_key_id())
    assert again.index_key() == provider.index_key()
    assert str(provider.master_key(provider.current_key_id())) not in repr(provider)


def test_file_provider_rotation_and_retirement(tmp_path: Path) -> None:
    provider = FileKeyProvider(tmp_path)
    vault = IdentityVault(provider)
    old = provider.current_key_id()
    sealed = vault.seal(NAME, record_id=3, field=FIELD_REAL_NAME)
    new = provider.rotate()
    assert stat.S_IMODE(os.stat(provider.path).st_mode) == 0o600
    moved = vault.rewrap(sealed)
    provider.retire(old)
    fresh = IdentityVault(FileKeyProvider(tmp_path, create=False))
    assert fresh.provider.current_key_id() == new
    assert fresh.open(moved, record_id=3, field=FIELD_REAL_NAME) == NAME
    with pytest.raises(VaultKeyNotFound):
        fresh.open(sealed, record_id=3, field=FIELD_REAL_NAME)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    provider = FileKeyProvider(tmp_path)
    os.chmod(provider.path, mode)
    with pytest.raises(VaultKeyFileInsecure) as info:
        FileKeyProvider(tmp_path)
    assert info.value.code == "vault_key_file_insecure"


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="needs O_NOFOLLOW")
def test_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    real = FileKeyProvider(tmp_path / "real")
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    (other / FileKeyProvider.FILE_NAME).symlink_to(real.path)
    with pytest.raises(VaultKeyFileInvalid):
        FileKeyProvider(other)


def test_missing_or_corrupt_key_file(tmp_path: Path) -> None:
    with pytest.raises(VaultKeyFileInvalid):
        FileKeyProvider(tmp_path / "none", create=False)
    provider = FileKeyProvider(tmp_path)
    doc = json.loads(provider.path.read_text())
    for broken in ({**doc, "current": "nope"}, {**doc, "keys": {"k": "AAAA"}}, {"format": "x"}, [1]):
        provider.path.write_text(json.dumps(broken))
        with pytest.raises(VaultKeyFileInvalid):
            FileKeyProvider(tmp_path)
    provider.path.write_text("not json")
    with pytest.raises(VaultKeyFileInvalid):
        FileKeyProvider(tmp_path)


def test_concurrent_first_use_agrees_on_one_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process creates the file between our existence check and our link: we use theirs."""
    first = FileKeyProvider(tmp_path / "a")
    target = tmp_path / "b"
    original_link = os.link

    def link_after_rival(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        os.makedirs(target, exist_ok=True)
        Path(dst).write_bytes(first.path.read_bytes())
        os.chmod(dst, 0o600)
        original_link(src, dst)

    monkeypatch.setattr(os, "link", link_after_rival)
    second = FileKeyProvider(target)
    assert second.current_key_id() == first.current_key_id()
    assert [p.name for p in target.iterdir()] == [FileKeyProvider.FILE_NAME]


# --- external KMS ----------------------------------------------------------------------


class FakeKms:
    """Wraps with a key it never hands out, as a KMS would."""

    def __init__(self) -> None:
        self._inner = StaticKeyProvider.generate("kms-1")
        self.calls: list[str] = []

    def current_key_id(self) -> str:
        return "kms-1"

    def master_key(self, key_id: str) -> bytes:
        raise AssertionError("a KMS never reveals its master key")

    def index_key(self) -> bytes:
        return self._inner.index_key()

    def wrap_data_key(self, key_id: str, data_key: bytes, aad: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.calls.append("wrap")
        nonce = os.urandom(12)
        return nonce + AESGCM(self._inner.master_key(key_id)).encrypt(nonce, data_key, aad)

    def unwrap_data_key(self, key_id: str, wrapped: bytes, aad: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.calls.append("unwrap")
        return AESGCM(self._inner.master_key(key_id)).decrypt(wrapped[:12], wrapped[12:], aad)


def test_remote_wrapper_is_used_instead_of_master_keys() -> None:
    kms = FakeKms()
    assert isinstance(kms, RemoteKeyWrapper)
    vault = IdentityVault(kms)
    sealed = vault.seal(NAME, record_id=1, field=FIELD_REAL_NAME)
    assert vault.open(sealed, record_id=1, field=FIELD_REAL_NAME) == NAME
    assert kms.calls == ["wrap", "unwrap"]


# --- blind index -----------------------------------------------------------------------


def test_blind_index_stable_normalised_and_field_separated(vault: IdentityVault) -> None:
    idx = vault.blind_index(ID_NUMBER, field=FIELD_DOCUMENT_NUMBER)
    assert len(idx) == 64 and ID_NUMBER not in idx
    assert vault.blind_index("11010519491231002x", field=FIELD_DOCUMENT_NUMBER) == idx
    assert vault.blind_index(" 110105 19491231 002X ", field=FIELD_DOCUMENT_NUMBER) == idx
    assert vault.blind_index(ID_NUMBER, field=FIELD_REAL_NAME) != idx
    assert vault.blind_index(ID_NUMBER, field="other_field") != idx
    assert vault.blind_index("11010519491231003X", field=FIELD_DOCUMENT_NUMBER) != idx
    phone = vault.blind_index("+8613812345678", field=FIELD_PHONE)
    assert vault.blind_index("138 1234 5678", field=FIELD_PHONE) == phone
    assert vault.blind_index("买买提·艾力", field=FIELD_REAL_NAME) == vault.blind_index(
        "买买提•艾力", field=FIELD_REAL_NAME
    )
    assert vault.blind_index("John  Smith", field=FIELD_REAL_NAME) == vault.blind_index(
        "john smith", field=FIELD_REAL_NAME
    )


def test_blind_index_depends_on_the_index_key_only(vault: IdentityVault) -> None:
    provider = vault.provider
    assert isinstance(provider, StaticKeyProvider)
    before = vault.blind_index(NAME, field=FIELD_REAL_NAME)
    provider.rotate()  # master-key rotation must not move indexes
    assert vault.blind_index(NAME, field=FIELD_REAL_NAME) == before
    assert IdentityVault(StaticKeyProvider.generate()).blind_index(NAME, field=FIELD_REAL_NAME) != before


def test_normalize_for_index() -> None:
    assert normalize_for_index(FIELD_PHONE, "+852 9123 4567") == "+85291234567"
    assert normalize_for_index("nickname", "  Ａｂ  c ") == "Ab c"


def test_invalid_field_names(vault: IdentityVault) -> None:
    with pytest.raises(ValueError):
        vault.seal(NAME, record_id=1, field="Real Name")
    with pytest.raises(ValueError):
        vault.blind_index(NAME, field="")


# --- masks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("张三丰", "张**"),
        ("欧阳娜娜", "欧***"),
        ("买买提·艾力", "买**·艾*"),
        ("John Smith", "J*** S****"),
        ("王", "*"),
        ("  ", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        (ID_NUMBER, "1****************X"),
        ("91350100M000100Y43", "9****************3"),
        ("D2143569-X", "D********X"),
        ("AB12", "***2"),
        ("7", "*"),
        ("", ""),
    ],
)
def test_mask_document(number: str, masked: str) -> None:
    assert mask_document(number) == masked
    assert len(mask_document(number)) == len(number)


def test_mask_document_wider() -> None:
    assert mask_document(ID_NUMBER, keep_start=3, keep_end=4) == "110***********002X"


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=200), st.integers(min_value=0, max_value=2**63), st.sampled_from(["real_name", "phone"]))
def test_round_trip_property(plain: str, record_id: int, field: str) -> None:
    vault = IdentityVault(_PROPERTY_PROVIDER)
    try:
        plain.encode("utf-8")
    except UnicodeEncodeError:
        return  # lone surrogates are not text we store
    sealed = vault.seal(plain, record_id=record_id, field=field)
    assert vault.open(sealed.to_str(), record_id=record_id, field=field) == plain


_PROPERTY_PROVIDER = StaticKeyProvider.generate()
