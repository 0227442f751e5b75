"""The OS keyring (Secret Service here) behind bounded calls: the one home of how we reach it.

Why bounded: a locked gnome-keyring waits for an unlock prompt that never comes on a headless machine,
and a missing D-Bus session fails in backend-specific ways. Every call goes through :func:`bounded`, so
it returns within :data:`KEYRING_TIMEOUT` seconds or raises :class:`KeyringUnavailable` with one line.
Used by case key slots (:mod:`viewer.case.crypto`) and the examiner's signing key
(:mod:`viewer.handover.signing`).
"""

from __future__ import annotations

import threading
from typing import Any

from viewer.case.errors import KeyringUnavailable

#: Seconds an OS keyring call may take. A locked gnome-keyring waits for an unlock prompt that never comes
#: on a headless machine; past this the call is abandoned (its daemon thread left behind) and
#: KeyringUnavailable raised.
KEYRING_TIMEOUT = 10.0


def os_keyring():
    import keyring
    import keyring.backends.fail

    try:
        backend = keyring.get_keyring()  # a forced backend (PYTHON_KEYRING_BACKEND) may fail right here
    except Exception as exc:  # noqa: BLE001 - no D-Bus, backend import errors alike
        raise unavailable(exc) from exc
    if isinstance(backend, keyring.backends.fail.Keyring):
        raise KeyringUnavailable("no OS keyring is available (no Secret Service / D-Bus session): use a passphrase")
    return keyring


def unavailable(exc: Exception) -> KeyringUnavailable:
    from keyring.errors import KeyringLocked

    if isinstance(exc, KeyringLocked):
        return KeyringUnavailable("the OS keyring is locked (unlock it, or use a passphrase)")
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return KeyringUnavailable(f"the OS keyring cannot be used ({detail}): use a passphrase")


def bounded(call: Any, *args: Any) -> Any:
    """``call(*args)`` in a daemon thread, at most :data:`KEYRING_TIMEOUT` seconds.

    Any exception of the call, and a call that does not return in time (a locked keyring waiting for an
    unlock prompt), becomes KeyringUnavailable. A timed-out call keeps running in its daemon thread; it
    cannot be cancelled, but it no longer blocks the caller nor the interpreter's exit.
    """
    timeout = KEYRING_TIMEOUT
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = call(*args)
        except BaseException as exc:  # noqa: BLE001 - handed over to the caller
            result["error"] = exc

    worker = threading.Thread(target=run, name="evidence-viewer-keyring", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise KeyringUnavailable(
            f"the OS keyring did not answer within {timeout:g} s (locked?) — use a passphrase")
    if "error" in result:
        exc = result["error"]
        if not isinstance(exc, Exception):
            raise exc
        raise unavailable(exc) from exc
    return result.get("value")
