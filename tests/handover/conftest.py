"""The hand-over tests' own config folder: signing keys and trusted-keys files are made under a temporary
``$XDG_CONFIG_HOME``, never in the examiner's own (keyring entries go to the test session's keyring)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def private_config_home(tmp_path_factory: pytest.TempPathFactory):
    old = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config-home"))
    yield os.environ["XDG_CONFIG_HOME"]
    if old is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = old


@pytest.fixture(scope="session", autouse=True)
def fresh_signing_key_entry():
    """The examiner's signing key lives in the session's keyring under one entry; a test elsewhere (the
    window's export) may have made it under another examiner's name. The hand-over tests start without it,
    so the first of them makes it, as on a new workstation."""
    from viewer.case.errors import KeyringUnavailable
    from viewer.case.oskeyring import bounded, os_keyring
    from viewer.handover.signing import KEYRING_SERVICE, KEYRING_USER

    try:
        keyring = os_keyring()
        if bounded(keyring.get_password, KEYRING_SERVICE, KEYRING_USER) is not None:
            bounded(keyring.delete_password, KEYRING_SERVICE, KEYRING_USER)
    except KeyringUnavailable:
        pass  # no keyring in this run: the keyring tests say so themselves
    yield
