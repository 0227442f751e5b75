"""A locked OS keyring (gnome-keyring's default collection locked) must not hang the case store.

A locked collection makes the Secret Service ask for an unlock prompt that nobody answers on a headless
machine; viewer.case.crypto bounds every keyring call (KEYRING_TIMEOUT) and raises KeyringUnavailable.

Unlocking a collection again needs that very prompt, so the shared session of `make test` must never be
locked: the test runs in a child process with its own D-Bus session and its own, fresh gnome-keyring-daemon
(the pattern of tests/run-under-session.sh), locks *that* keyring for real with secretstorage, and reports
what the case store did as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 2.0  # the module constant, patched small in the child

needs_secret_service = pytest.mark.skipif(
    not os.environ.get("PYTHON_KEYRING_BACKEND"),
    reason="needs the Secret Service session of `make test` (tests/run-under-session.sh)",
)

CHILD = textwrap.dedent('''
    import json, sys, time
    from pathlib import Path

    import secretstorage

    from viewer.case import TEST_KDF, create_case, open_case, oskeyring
    from viewer.case.errors import KeyringUnavailable

    oskeyring.KEYRING_TIMEOUT = float(sys.argv[2])
    folder = Path(sys.argv[1])
    out = {}

    # Unlocked: a keyring-slot case is created and opens.
    kr = create_case(folder / "kr.evcase", "Keyring", "Ann", use_keyring=True)
    out["kinds_unlocked"] = [s["kind"] for s in kr.slots()]
    out["reopen_unlocked"] = open_case(kr.path).case.name

    collection = secretstorage.get_default_collection(secretstorage.dbus_init())
    collection.lock()
    out["locked"] = collection.is_locked()

    def attempt(key, fn):
        t = time.monotonic()
        try:
            fn()
            out[key] = {"error": None}
        except KeyringUnavailable as exc:
            out[key] = {"error": "KeyringUnavailable", "message": str(exc)}
        except Exception as exc:
            out[key] = {"error": type(exc).__name__, "message": str(exc)}
        out[key]["seconds"] = time.monotonic() - t

    attempt("open_keyring", lambda: open_case(kr.path))
    attempt("create_keyring", lambda: create_case(folder / "new.evcase", "New", "Ann", use_keyring=True))

    # The passphrase slot still works with the keyring locked.
    pw = create_case(folder / "pw.evcase", "Both", "Ann", passphrase="pw", use_keyring=True, kdf=TEST_KDF)
    out["pw_kinds"] = [s["kind"] for s in pw.slots()]
    out["pw_warnings"] = pw.warnings
    out["pw_reopen"] = open_case(pw.path, passphrase="pw").case.name
    print("RESULT " + json.dumps(out), flush=True)
''')

SESSION = textwrap.dedent('''
    printf %s child-pass | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 & KR=$!
    for _ in $(seq 1 500); do
      dbus-send --session --print-reply --dest=org.freedesktop.DBus / \\
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true && break
      sleep 0.02
    done
    "$@"; rc=$?
    kill $KR 2>/dev/null; exit $rc
''')


@pytest.mark.slow
@needs_secret_service
def test_locked_keyring_raises_keyring_unavailable_in_time(tmp_path):
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    data, runtime = tmp_path / "data", tmp_path / "runtime"
    data.mkdir()
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_DATA_HOME": str(data), "XDG_RUNTIME_DIR": str(runtime),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring",
           "PYTHONPATH": str(ROOT)}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # never the shared session: that one must stay unlocked
    proc = subprocess.run(["dbus-run-session", "--", "bash", "-c", SESSION, "bash",
                           sys.executable, str(child), str(tmp_path), str(TIMEOUT)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}"
    out = json.loads(lines[-1][len("RESULT "):])

    assert out["kinds_unlocked"] == ["keyring"]
    assert out["reopen_unlocked"] == "Keyring"
    assert out["locked"] is True
    for key in ("open_keyring", "create_keyring"):
        r = out[key]
        assert r["error"] == "KeyringUnavailable", (key, r)
        assert "passphrase" in r["message"] and "locked" in r["message"], (key, r)
        assert r["seconds"] < TIMEOUT + 5, (key, r)  # bounded, not a hang
    assert out["pw_kinds"] == ["passphrase"]
    assert any("keyring" in w for w in out["pw_warnings"])
    assert out["pw_reopen"] == "Both"


@needs_secret_service
def test_shared_session_keyring_is_still_unlocked():
    """The test above must not have locked the keyring the rest of the suite uses."""
    import secretstorage

    assert not secretstorage.get_default_collection(secretstorage.dbus_init()).is_locked()
