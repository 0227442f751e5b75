#!/usr/bin/env bash
# Run a command (the test suite) under Xvfb, with a private D-Bus session and a fresh, unlocked
# gnome-keyring, so GUI tests get a real X server and keyring tests a real Secret Service.
# Pattern from ../shared/notes/headless-qt-keyring.md; the command's exit code comes through.
set -u
export XDG_DATA_HOME=$(mktemp -d) XDG_RUNTIME_DIR=$(mktemp -d)
chmod 700 "$XDG_RUNTIME_DIR"
export PYTHON_KEYRING_BACKEND=keyring.backends.SecretService.Keyring
cleanup() { rm -rf "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"; }
trap cleanup EXIT
xvfb-run -a -s "-screen 0 1280x1024x24" dbus-run-session -- bash -c '
  printf %s test-pass | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 & KR=$!
  for _ in $(seq 1 500); do
    dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true && break
    sleep 0.02
  done
  "$@"; rc=$?
  kill $KR 2>/dev/null; exit $rc' bash "$@"
