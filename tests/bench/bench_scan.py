#!/usr/bin/env python3
"""Benchmark of `evidence-viewer scan`: MB/s and peak memory, against rsakeyfind, aeskeyfind and yara.

Not a test: a script that prints numbers. It generates a mixed image (zeros, text, machine code,
zlib-compressed text, random bytes; default 2 GiB) with real keys planted in every form the detectors
support — PEM PKCS#1/PKCS#8/SEC1/OpenSSH, DER PKCS#1/PKCS#8/SEC1, CryptoAPI PRIVATEKEYBLOB, CNG
RSAFULLPRIVATE/ECCPRIVATE, JWK, JWT, AWS keys (all made with ``cryptography``) — and decompresses the two
sample dumps of ../shared/corpus/samples. Then, on the same files:

* the default scan and each detector alone, each in a child process (`evidence-viewer scan --json`),
  reporting the engine's MB/s, the wall time and the child's peak RSS (wait4);
* the engine in-process with each executor (inline / thread / process) — the measurement behind the
  threads-by-default decision in viewer/scan/engine.py;
* rsakeyfind, aeskeyfind and yara (a small rule set of PEM headers) when installed, by wall clock.

Targets: the default scan faster than rsakeyfind (~300 MB/s on this machine kind), memory flat
(< 500 MB peak RSS whatever the image size).

Prerequisites (Debian, as root; `make deps` installs them):
    apt-get install rsakeyfind aeskeyfind yara
Usage:
    .venv/bin/python tests/bench/bench_scan.py [--size-gib 2] [--workdir DIR] [--keep] [--skip-tools]
A quick run: --size-gib 0.25.

Real-dump mode (issue 13): ``--real [--repeat 3] [--heap-mb 96]`` makes its own real dumps (gcore of a
Python process with cryptography keys, AES contexts and a JWT, `openssl s_server`, ssh-agent with two
keys, Node.js, a JVM, nginx with TLS — whichever are installed — and the two samples: a Python gcore and a
Wine minidump), then prints one table: wall, MB/s and peak RSS of our whole scan (one `scan --json`
over all the files, SHA-256 included, start-up included), rsakeyfind, aeskeyfind, yara and yara-x (PEM
rules; yara-x through its Python package where it installs), the ratio of our throughput to each, and our
scan's stages (seconds, share, MB/s) from its ``--json`` stats. Runs are interleaved and repeated
(medians): on a shared machine only the ratios of one run mean much. ``--scaling 1,2,4,8`` scans
generated images of those sizes and prints the slope (s/GiB), R^2 and peak RSS.
"""

from __future__ import annotations

import argparse
import base64
import json
import lzma
import os
import platform
import random
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: E402

SAMPLES = Path(os.environ.get("EVIDENCE_SHARED", REPO.parent / "shared")) / "corpus" / "samples"
MiB = 1024 * 1024
BLOCK = MiB
YARA_RULES = r"""
rule pem_private_key { strings: $a = "-----BEGIN PRIVATE KEY-----" $b = "-----BEGIN RSA PRIVATE KEY-----"
  $c = "-----BEGIN EC PRIVATE KEY-----" $d = "-----BEGIN OPENSSH PRIVATE KEY-----"
  $e = "-----BEGIN ENCRYPTED PRIVATE KEY-----" $f = "-----BEGIN DSA PRIVATE KEY-----" condition: any of them }
"""


# -- key material ------------------------------------------------------------------------------------
def _le(value: int, size: int) -> bytes:
    return value.to_bytes(size, "little")


def _be(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


def cryptoapi_privatekeyblob(key: rsa.RSAPrivateKey) -> bytes:
    """PUBLICKEYSTRUC (PRIVATEKEYBLOB, v2, CALG_RSA_KEYX) + RSAPUBKEY "RSA2" + little-endian numbers."""
    pn = key.private_numbers()
    bits = key.key_size
    n8, n16 = bits // 8, bits // 16
    head = struct.pack("<BBHI", 7, 2, 0, 0xA400) + b"RSA2" + struct.pack("<II", bits, pn.public_numbers.e)
    body = _le(pn.public_numbers.n, n8) + _le(pn.p, n16) + _le(pn.q, n16) + _le(pn.dmp1, n16)
    return head + body + _le(pn.dmq1, n16) + _le(pn.iqmp, n16) + _le(pn.d, n8)


def bcrypt_rsafullprivate(key: rsa.RSAPrivateKey) -> bytes:
    """BCRYPT_RSAKEY_BLOB with magic RSA3 ("RFA3") and big-endian numbers."""
    pn = key.private_numbers()
    n8, n16 = key.key_size // 8, key.key_size // 16
    e = _be(pn.public_numbers.e, 3)
    head = struct.pack("<4sIIIII", b"RSA3", key.key_size, len(e), n8, n16, n16)
    nums = [_be(pn.public_numbers.n, n8), _be(pn.p, n16), _be(pn.q, n16)]
    nums += [_be(pn.dmp1, n16), _be(pn.dmq1, n16), _be(pn.iqmp, n16), _be(pn.d, n8)]
    return head + e + b"".join(nums)


def bcrypt_eccprivate(key: ec.EllipticCurvePrivateKey) -> bytes:
    """BCRYPT_ECCKEY_BLOB, ECDSA P-256 private ("ECS2"), X || Y || d."""
    pub = key.public_key().public_numbers()
    return b"ECS2" + struct.pack("<I", 32) + _be(pub.x, 32) + _be(pub.y, 32) + _be(key.private_numbers().private_value, 32)


def b64u(value: int) -> str:
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk(key: rsa.RSAPrivateKey) -> bytes:
    pn = key.private_numbers()
    members = {
        "kty": "RSA", "n": b64u(pn.public_numbers.n), "e": b64u(pn.public_numbers.e), "d": b64u(pn.d),
        "p": b64u(pn.p), "q": b64u(pn.q), "dp": b64u(pn.dmp1), "dq": b64u(pn.dmq1), "qi": b64u(pn.iqmp),
    }
    return json.dumps(members).encode()


def jwt() -> bytes:
    def part(obj: dict) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=")

    head = part({"alg": "HS256", "typ": "JWT"}) + b"." + part({"sub": "bench", "iat": 1700000000})
    return head + b"." + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=")


def planted_keys() -> list[tuple[str, bytes]]:
    """Every supported form, each of a fresh key."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    none = serialization.NoEncryption()
    pem, der = serialization.Encoding.PEM, serialization.Encoding.DER
    trad, pkcs8 = serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8
    aws_id = "AKIA" + "".join(random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    aws_secret = base64.b64encode(os.urandom(30)).decode()
    return [
        ("pem-pkcs1", rsa_key.private_bytes(pem, trad, none)),
        ("pem-pkcs8", rsa_key.private_bytes(pem, pkcs8, none)),
        ("pem-sec1", ec_key.private_bytes(pem, trad, none)),
        ("openssh-rsa", rsa_key.private_bytes(pem, serialization.PrivateFormat.OpenSSH, none)),
        ("openssh-ed25519", ed_key.private_bytes(pem, serialization.PrivateFormat.OpenSSH, none)),
        ("der-pkcs1", rsa_key.private_bytes(der, trad, none)),
        ("der-pkcs8", rsa_key.private_bytes(der, pkcs8, none)),
        ("der-sec1", ec_key.private_bytes(der, trad, none)),
        ("cryptoapi-privatekeyblob", cryptoapi_privatekeyblob(rsa_key)),
        ("bcrypt-rsafullprivate", bcrypt_rsafullprivate(rsa_key)),
        ("bcrypt-eccprivate", bcrypt_eccprivate(ec_key)),
        ("jwk", jwk(rsa_key)),
        ("jwt", jwt()),
        ("aws", f"aws_access_key_id = {aws_id}\naws_secret_access_key = {aws_secret}\n".encode()),
    ]


# -- the image -------------------------------------------------------------------------------------
def content_blocks() -> dict[str, bytes]:
    """One 1 MiB block of each kind of content found in process memory."""
    words = [w.encode() for w in (REPO / "README.md").read_text(errors="replace").split()] or [b"text"]
    rnd = random.Random(7)
    text = b" ".join(rnd.choice(words) for _ in range(BLOCK // 4))[:BLOCK]
    code_src = Path(sys.executable).resolve().read_bytes()
    code = (code_src * (BLOCK // max(1, len(code_src)) + 1))[len(code_src) // 3 :][:BLOCK]
    if len(code) < BLOCK:
        code = (code * (BLOCK // max(1, len(code)) + 1))[:BLOCK]
    compressed = b""
    while len(compressed) < BLOCK:
        start = rnd.randrange(0, BLOCK // 2)
        compressed += zlib.compress(text[start : start + 300_000], 6)
    return {"zeros": bytes(BLOCK), "text": text, "code": code, "zlib": compressed[:BLOCK], "random": b""}


def build_image(path: Path, size: int) -> list[tuple[str, int]]:
    """Write the mixed image; return (form, file offset) of every planted key."""
    blocks = content_blocks()
    kinds = list(blocks)
    keys = planted_keys()
    planted: list[tuple[str, int]] = []
    every = max(1, (size // BLOCK) // (len(keys) * 4))  # each form about 4 times per image
    k = 0
    with open(path, "wb") as fh:
        for i in range(size // BLOCK):
            kind = kinds[i % len(kinds)]
            data = bytearray(os.urandom(BLOCK) if kind == "random" else blocks[kind])
            if i % every == 0:
                form, key = keys[k % len(keys)]
                k += 1
                at = 4096 + (i * 7919) % (BLOCK - len(key) - 8192)
                data[at : at + len(key)] = key
                planted.append((form, i * BLOCK + at))
            fh.write(data)
    return planted


# -- measurement -----------------------------------------------------------------------------------
# Linux carries the parent's RSS high-water mark through fork+exec into the child's ru_maxrss, so a child
# started from this (large) process would report at least our own peak. A small launcher process starts
# each command instead and reports the command's wait4() peak RSS on stderr.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"\\nMAXRSS_KB={usage.ru_maxrss}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_child(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, int, bytes]:
    """Run ``cmd``; return wall seconds, its peak RSS in MB, exit code and stdout."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], capture_output=True, cwd=cwd)
    wall = time.perf_counter() - started
    kb = [line for line in proc.stderr.decode(errors="replace").splitlines() if line.startswith("MAXRSS_KB=")]
    rss = int(kb[-1].split("=")[1]) / 1024 if kb else float("nan")
    return wall, rss, proc.returncode, proc.stdout


def scan_cli(path: Path, detector: str | None) -> dict:
    cmd = [sys.executable, "-m", "viewer.cli.main", "scan", "--json", "--no-hash", "--min-confidence", "low", str(path)]
    if detector:
        cmd += ["--detector", detector]
    wall, rss, rc, out = run_child(cmd)
    doc = json.loads(out)["results"][0]
    return {"wall": wall, "rss": rss, "rc": rc, "mbps": doc["stats"]["mb_per_s"], "secrets": len(doc["secrets"]),
            "findings": len(doc["findings"]), "stats": doc["stats"]}


def warm(path: Path) -> None:
    """Read the file once so that every tool sees it in the page cache (fair comparison)."""
    with open(path, "rb", buffering=0) as fh:
        while fh.read(64 * MiB):
            pass


# -- real-dump mode ----------------------------------------------------------------------------------
def _median(values: list[float]) -> float:
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def _ours(files: list[Path], checkout: Path | None = None) -> dict:
    """`evidence-viewer scan --json FILES...` (default detectors, SHA-256 included): wall, peak RSS of the
    whole process tree, and the stats of every file. ``checkout``: run that checkout's code instead (the
    baseline row: the same command from another worktree, e.g. main before this work)."""
    cmd = [sys.executable, "-m", "viewer.cli.main", "scan", "--json", "--min-confidence", "low", *map(str, files)]
    wall, rss, rc, out = run_child(cmd, cwd=checkout or REPO)
    results = json.loads(out)["results"]
    return {"wall": wall, "rss": rss, "rc": rc, "stats": [r["stats"] for r in results],
            "findings": sum(len(r["findings"]) for r in results), "hashed": all(r["evidence"]["sha256"] for r in results)}


def _peer(tool: str, files: list[Path], work: Path) -> dict | None:
    """A peer over the same files: its wall time (one process per file where the tool takes one file;
    yara over a folder of hard links, its own multi-file mode) and its largest peak RSS."""
    rules = work / "pem.yar"
    rules.write_text(YARA_RULES)
    if tool in ("rsakeyfind", "aeskeyfind"):
        if shutil.which(tool) is None:
            return None
        runs = [run_child([tool, str(f)]) for f in files]
    elif tool == "yara":
        if shutil.which("yara") is None:
            return None
        folder = work / "yara-set"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for f in files:
            os.link(f, folder / f.name)
        runs = [run_child(["yara", "-r", str(rules), str(folder)])]
        shutil.rmtree(folder, ignore_errors=True)
    elif tool == "yara-x":
        try:
            import yara_x  # noqa: F401
        except ImportError:
            return None
        script = ("import sys, yara_x\nr = yara_x.compile(open(sys.argv[1]).read())\ns = yara_x.Scanner(r)\n"
                  "for f in sys.argv[2:]:\n    s.scan_file(f)\n")
        runs = [run_child([sys.executable, "-c", script, str(rules), *map(str, files)])]
    else:
        raise ValueError(tool)
    return {"wall": sum(r[0] for r in runs), "rss": max(r[1] for r in runs), "rc": max(r[2] for r in runs)}


PEERS = ("rsakeyfind", "aeskeyfind", "yara", "yara-x")


def real_mode(args: argparse.Namespace, work: Path) -> None:
    """One table from one run: our scan of a set of real dumps (whole process, many files in one call),
    its stages, and each peer on the same files, with the ratio of our throughput to each peer's."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from real_dumps import make_real_dumps, sample_dumps

    print(f"real dumps in {work} (heap fill {args.heap_mb} MB per holder):")
    files = make_real_dumps(work / "real", args.heap_mb, java_heap_mb=args.java_heap_mb)
    files += sample_dumps(SAMPLES, work / "real")
    total = sum(f.stat().st_size for f in files)
    for f in files:
        warm(f)
    print(f"set: {len(files)} dumps, {total / 1e6:.0f} MB; {args.repeat} run(s) of each tool, interleaved; "
          "medians below")
    walls: dict[str, list[float]] = {"ours": []}
    rss: dict[str, float] = {"ours": 0.0}
    stage_runs: list[dict[str, float]] = []
    first_pass: list[float] = []
    post: list[float] = []
    reread: dict[str, int] = {}
    peers_seen: list[str] = []
    for _ in range(args.repeat):
        res = _ours(files)
        walls["ours"].append(res["wall"])
        rss["ours"] = max(rss["ours"], res["rss"])
        stages: dict[str, float] = {}
        for st in res["stats"]:
            for name, t in st.get("stages", {}).items():
                stages[name] = stages.get(name, 0.0) + t
            for name, n in st.get("reread", {}).items():
                reread[name] = max(reread.get(name, 0), n)
        stage_runs.append(stages)
        first_pass.append(sum(st["seconds"] for st in res["stats"]))
        post.append(sum(st.get("post_seconds", 0.0) for st in res["stats"]))
        if args.baseline:
            b = _ours(files, args.baseline)
            walls.setdefault("baseline", []).append(b["wall"])
            rss["baseline"] = max(rss.get("baseline", 0.0), b["rss"])
            if "baseline" not in peers_seen:
                peers_seen.append("baseline")
        if args.skip_tools:
            continue
        for tool in PEERS:
            r = _peer(tool, files, work)
            if r is None:
                continue
            if tool not in peers_seen:
                peers_seen.append(tool)
            walls.setdefault(tool, []).append(r["wall"])
            rss[tool] = max(rss.get(tool, 0.0), r["rss"])
    mb = total / 1e6
    ours = mb / _median(walls["ours"])
    print("\n| tool | wall (s) | MB/s | peak RSS (MB) | ours / tool |")
    print("|---|---:|---:|---:|---:|")
    print(f"| evidence-viewer scan (default, whole process, SHA-256 included) | {_median(walls['ours']):.2f} | "
          f"{ours:.0f} | {rss['ours']:.0f} | 1.00 |")
    for tool in peers_seen:
        w = _median(walls[tool])
        label = f"evidence-viewer scan from {args.baseline} (baseline)" if tool == "baseline" else tool
        print(f"| {label}{' (PEM rules)' if tool.startswith('yara') else ''} | {w:.2f} | {mb / w:.0f} | "
              f"{rss[tool]:.0f} | {ours / (mb / w):.2f} |")
    names = sorted({n for s in stage_runs for n in s}, key=lambda n: -_median([s.get(n, 0.0) for s in stage_runs]))
    stage_total = sum(_median([s.get(n, 0.0) for s in stage_runs]) for n in names) or 1.0
    print(f"\nstages of our scan (seconds summed over the dumps and workers; first pass {_median(first_pass):.2f} s, "
          f"post-scan {_median(post):.2f} s of wall):")
    print("| stage | seconds | share | MB/s of the set |")
    print("|---|---:|---:|---:|")
    for n in names:
        t = _median([s.get(n, 0.0) for s in stage_runs])
        if t < 0.005:
            continue
        print(f"| {n} | {t:.2f} | {100 * t / stage_total:.1f}% | {mb / t if t else 0:.0f} |")
    print("read again after the first pass: " + (", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in reread.items())
                                                 or "nothing (every byte read once)"))


def scaling_mode(args: argparse.Namespace, work: Path) -> None:
    """Generated images of 1, 2, 4, 8 GiB: our scan's wall time (the slope, s per GiB, and how straight
    the line is) and peak RSS."""
    sizes = [float(x) for x in args.scaling.split(",")]
    points = []
    print("\n| image (GiB) | wall (s) | MB/s | peak RSS (MB) |")
    print("|---:|---:|---:|---:|")
    for gib in sizes:
        image = work / f"scale-{gib:g}.img"
        build_image(image, int(gib * 1024) * MiB)
        warm(image)
        res = _ours([image])
        points.append((gib, res["wall"], res["rss"]))
        print(f"| {gib:g} | {res['wall']:.2f} | {gib * 1024 * MiB / 1e6 / res['wall']:.0f} | {res['rss']:.0f} |")
        image.unlink()
    if len(points) >= 2:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
        intercept = my - slope * mx
        ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
        ss_tot = sum((y - my) ** 2 for y in ys) or 1.0
        print(f"slope {slope:.2f} s/GiB ({1024 * MiB / 1e6 / slope:.0f} MB/s marginal), intercept {intercept:.2f} s, "
              f"R^2 {1 - ss_res / ss_tot:.4f}; peak RSS {min(p[2] for p in points):.0f}-{max(p[2] for p in points):.0f} MB "
              f"(target < 500)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-gib", type=float, default=2.0)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--skip-tools", action="store_true", help="do not run rsakeyfind/aeskeyfind/yara")
    ap.add_argument("--skip-samples", action="store_true")
    ap.add_argument("--real", action="store_true",
                    help="real-dump mode: gcore of live processes holding keys and the Wine/Python samples, "
                    "our scan and its stages beside each peer, one table")
    ap.add_argument("--scaling", metavar="GIB,...", help="generated images of these sizes (e.g. 1,2,4,8): slope and RSS")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each tool in real-dump mode (medians)")
    ap.add_argument("--heap-mb", type=int, default=96, help="memory each live holder fills (real-dump mode)")
    ap.add_argument("--java-heap-mb", type=int, default=256, help="the JVM's -Xmx (sets its core's size)")
    ap.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                    help="real-dump mode: also run the scan from this checkout (e.g. ../main), same files, same run")
    args = ap.parse_args()
    if args.real or args.scaling:
        work = args.workdir or Path(tempfile.mkdtemp(prefix="ev-bench-scan-"))
        work.mkdir(parents=True, exist_ok=True)
        try:
            print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
                  f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.1f}")
            if args.real:
                real_mode(args, work)
            if args.scaling:
                scaling_mode(args, work)
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
        return 0

    from viewer.evidence import open_dump
    from viewer.scan.detectors import default_detectors
    from viewer.scan.engine import scan_dump

    work = args.workdir or Path(tempfile.mkdtemp(prefix="ev-bench-scan-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        size = int(args.size_gib * 1024) * MiB
        image = work / "mixed.img"
        t = time.perf_counter()
        planted = build_image(image, size)
        print(f"image     {image} {size / MiB:.0f} MiB, {len(planted)} keys planted, built in {time.perf_counter() - t:.1f} s")
        files = [image]
        if not args.skip_samples:
            for xz in sorted(SAMPLES.glob("*.xz")):
                target = work / xz.name[:-3]
                with lzma.open(xz) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 8 * MiB)
                files.append(target)
        names = [d.name for d in default_detectors()]
        for path in files:
            warm(path)
            mb = path.stat().st_size / 1e6
            print(f"\n== {path.name} ({mb:.0f} MB)")
            res = scan_cli(path, None)
            print(f"  {'default scan':<26} {res['mbps']:>8.0f} MB/s (engine)  wall {res['wall']:6.2f} s "
                  f"({mb / res['wall']:.0f} MB/s)  peak RSS {res['rss']:6.0f} MB  secrets {res['secrets']}  "
                  f"findings {res['findings']}  [{res['stats']['engine']}, {res['stats']['workers']} {res['stats']['executor']}]")
            for name, s in res["stats"]["detectors"].items():
                print(f"    {name:<24} hits {s['hits']:>7}  findings {s['findings']:>5}  errors {s['errors']}")
            if path == image:
                found = {d["offset"] for d in json.loads(run_child([sys.executable, "-m", "viewer.cli.main", "scan", "--json",
                         "--no-hash", "--min-confidence", "low", str(path)])[3])["results"][0]["findings"]}
                missed = sorted({form for form, off in planted if not any(off <= f < off + 4096 for f in found)})
                print(f"  planted forms with no finding within 4 KiB: {', '.join(missed) or 'none'}")
            for name in names:
                r = scan_cli(path, name)
                print(f"  {'only ' + name:<26} {r['mbps']:>8.0f} MB/s (engine)  wall {r['wall']:6.2f} s  "
                      f"peak RSS {r['rss']:6.0f} MB  findings {r['findings']}")
            if path == image:
                with open_dump(path) as dump:
                    for executor in ("inline", "thread", "process"):
                        r = scan_dump(dump, executor=executor)
                        print(f"  engine executor={executor:<8} {r.stats.mb_per_s:>8.0f} MB/s ({r.stats.workers} workers)")
                self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                print(f"  peak RSS: this process {self_rss:.0f} MB, largest child {child_rss:.0f} MB")
            if args.skip_tools:
                continue
            for tool, cmd in (
                ("rsakeyfind", ["rsakeyfind", str(path)]),
                ("aeskeyfind", ["aeskeyfind", str(path)]),
                ("yara (PEM rules)", ["yara", "-N", str(work / "pem.yar"), str(path)]),
            ):
                exe = shutil.which(cmd[0])
                if exe is None:
                    print(f"  {tool:<26} not installed (apt-get install {cmd[0]})")
                    continue
                (work / "pem.yar").write_text(YARA_RULES)
                wall, rss, rc, out = run_child(cmd)
                print(f"  {tool:<26} {mb / wall:>8.0f} MB/s (wall)    wall {wall:6.2f} s  peak RSS {rss:6.0f} MB  "
                      f"exit {rc}, {len(out.splitlines())} output lines")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"\nkept {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
