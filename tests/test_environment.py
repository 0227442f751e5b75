"""The test session `make test` sets up is real: an X server, fonts, and a Secret Service keyring.

Later features (the case-file key in the OS keyring) are tested against this real service, never a fake;
this test fails loudly if the harness ever stops providing it.
"""

from __future__ import annotations

import os
import uuid

import keyring
import pytest


@pytest.mark.skipif(os.environ.get("PYTHON_KEYRING_BACKEND") is None, reason="not under make test")
def test_secret_service_keyring_round_trip():
    backend = keyring.get_keyring()
    assert type(backend).__module__ == "keyring.backends.SecretService", backend
    service, user = "evidence-viewer-test", f"probe-{uuid.uuid4()}"
    secret = uuid.uuid4().hex
    keyring.set_password(service, user, secret)
    try:
        assert keyring.get_password(service, user) == secret
    finally:
        keyring.delete_password(service, user)
    assert keyring.get_password(service, user) is None
