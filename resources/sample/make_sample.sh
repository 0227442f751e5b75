#!/usr/bin/env bash
# Make the bundled sample for `make run`: a REAL gdb core of a live process holding a throw-away demo key.
#
#   resources/sample/make_sample.sh            (as root, or where ptrace of a child is allowed)
#
# Writes, next to this script:
#   demo-keyholder.core        the ELF core written by gdb's `gcore`
#   demo-keyholder.json        what is in it: pid, buffer addresses and file offsets, key fingerprint, tools
#   demo-keyholder.public.pem  the public half of the demo key (to ask "is its private half in the dump?")
#
# DEMO KEY — throw-away, not a secret: a fresh RSA-2048 key is generated on every run, lives only in a
# temporary directory and in the core, and protects nothing.
#
# Why these choices:
# - keyholder.c is linked statically: no shared libraries are mapped, so the core holds only the program's
#   own pages, heap, stack and vDSO (about 350 KB instead of about 600 KB dynamically linked).
# - gdb honours /proc/PID/coredump_filter (`set use-coredump-filter on`, the default 0x33): anonymous
#   memory and ELF header pages are dumped, unmodified file-backed mappings are not. That keeps it small.
# - The keyholder runs with an empty environment (`env -i`): the environment strings sit on the stack
#   and would otherwise land in a committed file (tokens, user names, paths).
# - gdb runs with -nx so nobody's ~/.gdbinit changes what is written.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT_CORE="$HERE/demo-keyholder.core"
OUT_JSON="$HERE/demo-keyholder.json"
OUT_PUB="$HERE/demo-keyholder.public.pem"
PYTHON=${PYTHON:-python3}

for tool in openssl gcc gdb "$PYTHON"; do
  command -v "$tool" >/dev/null || { echo "make_sample.sh: '$tool' is needed" >&2; exit 2; }
done

WORK=$(mktemp -d)
KH_PID=
cleanup() {
  if [ -n "$KH_PID" ]; then kill "$KH_PID" 2>/dev/null || true; wait "$KH_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
umask 077

# 1. The demo key: PKCS#8 PEM, and the same key as PKCS#8 DER; the public half as PEM and DER.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/demo.pem" 2>/dev/null
openssl pkey -in "$WORK/demo.pem" -outform DER -out "$WORK/demo.der"
openssl pkey -in "$WORK/demo.pem" -pubout -out "$WORK/demo.pub.pem"
openssl pkey -in "$WORK/demo.pem" -pubout -outform DER -out "$WORK/demo.pub.der"

# 2. The program (static when libc.a is there, else dynamic: the core is a bit bigger but still real).
if gcc -O2 -Wall -Wextra -static -o "$WORK/keyholder" "$HERE/keyholder.c" 2>"$WORK/gcc.log"; then
  LINK=static
else
  gcc -O2 -Wall -Wextra -o "$WORK/keyholder" "$HERE/keyholder.c"
  LINK=dynamic
fi

# 3. Run it with an empty environment and wait for its one line of JSON (pid and addresses).
(cd "$WORK" && exec env -i PATH=/usr/bin:/bin ./keyholder demo.pem demo.der >"$WORK/keyholder.out") &
KH_PID=$!
for _ in $(seq 1 250); do
  [ -s "$WORK/keyholder.out" ] && break
  kill -0 "$KH_PID" 2>/dev/null || { echo "make_sample.sh: keyholder exited early" >&2; exit 1; }
  sleep 0.02
done
[ -s "$WORK/keyholder.out" ] || { echo "make_sample.sh: keyholder did not report its addresses" >&2; exit 1; }

# 4. The core. gdb -p needs ptrace rights: root, or kernel.yama.ptrace_scope=0.
rm -f "$OUT_CORE"
if ! gdb -batch -nx -p "$KH_PID" -ex 'set use-coredump-filter on' -ex "gcore $WORK/demo-keyholder.core" \
     >"$WORK/gdb.log" 2>&1 || [ ! -s "$WORK/demo-keyholder.core" ]; then
  cat "$WORK/gdb.log" >&2
  echo "make_sample.sh: gdb could not write the core (ptrace not allowed? run as root)" >&2
  exit 1
fi
kill "$KH_PID"; wait "$KH_PID" 2>/dev/null || true; KH_PID=
cp "$WORK/demo-keyholder.core" "$OUT_CORE"
cp "$WORK/demo.pub.pem" "$OUT_PUB"
chmod 644 "$OUT_CORE" "$OUT_PUB"

# 5. The record: where the key is, by address (from the process) and by file offset (searched in the core).
GDB_VERSION=$(gdb --version | head -n1) GCC_VERSION=$(gcc --version | head -n1) \
OPENSSL_VERSION=$(openssl version) KERNEL=$(uname -srm) LINK=$LINK WORK=$WORK \
OUT_CORE=$OUT_CORE OUT_JSON=$OUT_JSON "$PYTHON" - <<'PY'
import datetime, hashlib, json, os
from pathlib import Path

work = Path(os.environ["WORK"])
core = Path(os.environ["OUT_CORE"]).read_bytes()
proc = json.loads((work / "keyholder.out").read_text())
pem = (work / "demo.pem").read_bytes()
der = (work / "demo.der").read_bytes()
pub_der = (work / "demo.pub.der").read_bytes()


def offsets(needle: bytes) -> list[int]:
    found, i = [], core.find(needle)
    while i >= 0:
        found.append(i)
        i = core.find(needle, i + 1)
    return found


record = {
    "what": "gdb gcore of a live Linux x86-64 process holding a throw-away DEMO RSA-2048 key "
            "(DEMO KEY - throw-away, not a secret)",
    "core": {"file": "demo-keyholder.core", "size": len(core), "sha256": hashlib.sha256(core).hexdigest()},
    "pid": proc["pid"],
    "key": {
        "type": "rsa-2048",
        "public_key_sha256": hashlib.sha256(pub_der).hexdigest(),
        "fingerprint_of": "SHA-256 of the public key DER (SubjectPublicKeyInfo)",
        "public_pem_file": "demo-keyholder.public.pem",
    },
    "buffers": [
        {"encoding": "pem-pkcs8", "vaddr": proc["pem_addr"], "vaddr_hex": hex(proc["pem_addr"]),
         "length": proc["pem_len"], "file_offsets": offsets(pem)},
        {"encoding": "der-pkcs8", "vaddr": proc["der_addr"], "vaddr_hex": hex(proc["der_addr"]),
         "length": proc["der_len"], "file_offsets": offsets(der)},
    ],
    "made_with": {
        "gdb": os.environ["GDB_VERSION"],
        "gcc": os.environ["GCC_VERSION"] + f" ({os.environ['LINK']} link)",
        "openssl": os.environ["OPENSSL_VERSION"],
        "kernel": os.environ["KERNEL"],
        "script": "resources/sample/make_sample.sh",
    },
    "date": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
}
for buf in record["buffers"]:
    if not buf["file_offsets"]:
        raise SystemExit(f"make_sample.sh: the {buf['encoding']} buffer is not in the core")
Path(os.environ["OUT_JSON"]).write_text(json.dumps(record, indent=2) + "\n")
PY
chmod 644 "$OUT_JSON"
echo "wrote $OUT_CORE ($(stat -c %s "$OUT_CORE") bytes), $OUT_JSON, $OUT_PUB"
