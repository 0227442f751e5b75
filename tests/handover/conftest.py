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
