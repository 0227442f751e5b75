"""The one unlock rule (viewer.case.unlock): a given passphrase, else the keyring, else ask with the reason.

Real case files (the tests' cheap Argon2id cost), the real keyring library: the Secret Service of
`make test` where a test needs a working keyring, keyring's own fail backend for an unusable one.
"""

from __future__ import annotations

from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from tests.case.test_case_store import needs_secret_service
from viewer.case import (
    TEST_KDF,
    CaseError,
    KeyringUnavailable,
    NotACaseFile,
    PassphraseRequired,
    WrongPassphrase,
    create_case,
)
from viewer.case.unlock import ASK_REASONS, unlock_case

PW = "correct horse battery staple"


class Asker:
    """An ``ask`` that records each reason it was given and answers with ``answer``."""

    def __init__(self, answer: str | None):
        self.answer = answer
        self.reasons: list[CaseError] = []

    def __call__(self, reason: CaseError) -> str | None:
        self.reasons.append(reason)
        return self.answer


@pytest.fixture
def passphrase_case(tmp_path: Path) -> Path:
    """A case with one passphrase slot and no keyring slot."""
    path = tmp_path / "pw.evcase"
    create_case(path, "Passphrase only", "Ann Quill", passphrase=PW, use_keyring=False, kdf=TEST_KDF)
    return path




def test_a_given_passphrase_opens_and_nothing_is_asked(passphrase_case):
    ask = Asker("never used")
    cf = unlock_case(passphrase_case, passphrase=PW, ask=ask, author_name="Bob")
    assert cf.case.name == "Passphrase only" and ask.reasons == []


def test_a_wrong_given_passphrase_is_wrong_and_not_asked_again(passphrase_case):
    ask = Asker(PW)
    with pytest.raises(WrongPassphrase):
        unlock_case(passphrase_case, passphrase="not it", ask=ask)
    assert ask.reasons == []


@pytest.mark.parametrize("use_keyring, why", [(True, "no keyring slot"), (False, "keyring not used")])
def test_without_a_usable_keyring_slot_it_asks_with_the_reason(passphrase_case, use_keyring, why):
    ask = Asker(PW)
    cf = unlock_case(passphrase_case, use_keyring=use_keyring, ask=ask)
    assert cf.case.name == "Passphrase only"
    assert len(ask.reasons) == 1 and isinstance(ask.reasons[0], PassphraseRequired)
    assert why in str(ask.reasons[0])


def test_no_way_to_ask_raises_the_reason(passphrase_case):
    with pytest.raises(PassphraseRequired, match="no keyring slot"):
        unlock_case(passphrase_case)
    with pytest.raises(PassphraseRequired, match="keyring not used"):
        unlock_case(passphrase_case, use_keyring=False, ask=Asker(None))  # the user cancelled


@pytest.mark.parametrize("given", [True, False])
def test_an_empty_passphrase_is_refused_not_tried(passphrase_case, given):
    """The copies disagreed here: `export` tried an empty answer (an Argon2id run, then "wrong
    passphrase"); the rule refuses it as no passphrase at all, given or answered."""
    with pytest.raises(PassphraseRequired, match="empty passphrase"):
        if given:
            unlock_case(passphrase_case, passphrase="")
        else:
            unlock_case(passphrase_case, ask=Asker(""))


def test_the_file_is_checked_before_asking(tmp_path):
    """The copies disagreed here: `case --no-keyring` on a terminal asked first and reported a file that
    is not a case after the passphrase was typed; the rule reads the header first."""
    path = tmp_path / "not-a-case.evcase"
    path.write_bytes(b"hello, not a case\n")
    for use_keyring in (True, False):
        ask = Asker(PW)
        with pytest.raises(NotACaseFile):
            unlock_case(path, use_keyring=use_keyring, ask=ask)
        assert ask.reasons == []


@needs_secret_service
def test_the_keyring_opens_a_keyring_case_without_asking(tmp_path):
    path = tmp_path / "kr.evcase"
    create_case(path, "Keyring", "Ann Quill", passphrase=PW, kdf=TEST_KDF)
    ask = Asker("never used")
    assert unlock_case(path, ask=ask).case.name == "Keyring" and ask.reasons == []
    # A given passphrase is used alone: a wrong one is wrong although the keyring would open the case.
    with pytest.raises(WrongPassphrase):
        unlock_case(path, passphrase="not it", ask=ask)
    # Keyring off: the passphrase is asked for, with that reason.
    ask = Asker(PW)
    assert unlock_case(path, use_keyring=False, ask=ask).case.name == "Keyring"
    assert [type(r) for r in ask.reasons] == [PassphraseRequired]


@needs_secret_service
def test_an_unusable_keyring_is_a_reason_to_ask(tmp_path):
    """The copies disagreed here: `case` named the keyring's failure, `export` asked silently; and without
    a way to ask, `case` gave the keyring error without saying how else to give a passphrase. The rule
    hands the failure to ``ask`` and, when nobody can be asked, raises it for the front end to explain."""
    path = tmp_path / "kr.evcase"
    create_case(path, "Keyring", "Ann Quill", passphrase=PW, kdf=TEST_KDF)
    before = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        ask = Asker(PW)
        assert unlock_case(path, ask=ask).case.name == "Keyring"
        assert len(ask.reasons) == 1 and isinstance(ask.reasons[0], KeyringUnavailable)
        with pytest.raises(KeyringUnavailable, match="use a passphrase"):
            unlock_case(path)
    finally:
        keyring.set_keyring(before)


def test_the_reasons_are_the_case_errors_that_mean_no_passphrase_yet():
    assert all(issubclass(r, CaseError) for r in ASK_REASONS)
    assert WrongPassphrase not in ASK_REASONS and NotACaseFile not in ASK_REASONS


def test_fail_backend_on_a_passphrase_case_still_asks(passphrase_case, fail_keyring):
    ask = Asker(PW)
    assert unlock_case(passphrase_case, ask=ask).case.name == "Passphrase only"
    assert isinstance(ask.reasons[0], PassphraseRequired)
