"""Real dumps for the scan benchmark: gcore of live processes holding keys, made here and now.

Each holder loads or generates keys the way its runtime does, fills some memory (so the dumps have the
size and mix of real processes: heap, text, compressed and random data), says it is ready, and waits;
``gcore`` dumps it. What is not installed is skipped with a line saying so. The two real samples of
../shared/corpus/samples (a gcore of a Python process and a Wine minidump) are added decompressed.
"""

from __future__ import annotations

import datetime
import lzma
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

GDB = shutil.which("gdb")
MiB = 1024 * 1024

PY_HOLDER = r"""
import base64, ctypes, hashlib, hmac, json, os, random, sys, zlib
ctypes.CDLL(None).prctl(0x59616D61, ctypes.c_ulong(-1), 0, 0, 0)
from cryptography.hazmat.primitives.asymmetric import rsa, ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives import serialization
keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]
eck = ec.generate_private_key(ec.SECP256R1())
aes = [Cipher(algorithms.AES(os.urandom(32)), modes.GCM(os.urandom(12))).encryptor() for _ in range(3)]
pem = keys[0].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=")
head = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(b'{"sub":"bench"}')
token = head + b"." + b64(hmac.new(b"bench-secret-123", head, hashlib.sha256).digest())
mb = int(sys.argv[1])
rnd = random.Random(1)
words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9))) for _ in range(5000)]
fill = []
for i in range(mb):
    kind = i % 4
    if kind == 0:
        fill.append(os.urandom(MiB := 1 << 20))
    elif kind == 1:
        fill.append(b" ".join(rnd.choice(words) for _ in range(180000))[: 1 << 20])
    elif kind == 2:
        fill.append(zlib.compress(fill[-1], 6) * 3)
    else:
        fill.append(bytearray(1 << 20))
print("ready", flush=True)
sys.stdin.read()
"""

NODE_HOLDER = r"""
const crypto = require('crypto');
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const cipher = crypto.createCipheriv('aes-256-gcm', crypto.randomBytes(32), crypto.randomBytes(12));
const fill = [];
for (let i = 0; i < parseInt(process.argv[2]); i++) fill.push(i % 2 ? crypto.randomBytes(1 << 20) : Buffer.alloc(1 << 20, 'node heap text '));
console.log('ready');
process.stdin.resume();
"""

JAVA_HOLDER = r"""
import java.security.*; import javax.crypto.*; import javax.crypto.spec.*; import java.util.*;
public class Holder {
  static Object keep;
  public static void main(String[] a) throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA"); g.initialize(2048);
    KeyPair kp = g.generateKeyPair();
    Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
    byte[] k = new byte[32]; new SecureRandom().nextBytes(k);
    c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(k, "AES"));
    List<byte[]> fill = new ArrayList<>(); Random r = new Random(1);
    for (int i = 0; i < Integer.parseInt(a[0]); i++) { byte[] b = new byte[1 << 20]; if (i % 2 == 0) r.nextBytes(b); fill.add(b); }
    keep = new Object[]{kp, c, fill};
    System.out.println("ready"); System.out.flush();
    System.in.read();
  }
}
"""


def gcore(pid: int, out: Path) -> Path | None:
    if GDB is None:
        return None
    subprocess.run([GDB, "-batch", "-nx", "-p", str(pid), "-ex", f"gcore {out}"], capture_output=True, timeout=600)
    return out if out.exists() and out.stat().st_size else None


def _hold(cmd: list[str], out: Path, ready: Callable[[subprocess.Popen], bool] | None = None,
          env: dict | None = None, cwd: Path | None = None) -> Path | None:
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env, cwd=cwd)
    try:
        if ready is None:
            line = proc.stdout.readline().strip() if proc.stdout else ""
            if line != "ready":
                return None
        elif not ready(proc):
            return None
        return gcore(proc.pid, out)
    finally:
        proc.kill()
        proc.wait()


def _listening(port: int, proc: subprocess.Popen, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _key_and_cert(work: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    k, c = work / "server.key", work / "server.crt"
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return k, c


def make_real_dumps(work: Path, heap_mb: int = 96, log: Callable[[str], None] = print,
                    java_heap_mb: int = 256) -> list[Path]:
    """The set of real dumps, made in ``work``; each line of ``log`` says what was made or skipped.
    ``heap_mb``: how much the Python holder fills (half of it in Node.js and the JVM); ``java_heap_mb``:
    the JVM's -Xmx, which sets most of its core's size (it is dumped whole, reserved pages included)."""
    work.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []

    def add(name: str, path: Path | None) -> None:
        if path is None:
            log(f"  {name:<28} skipped (not installed, or gcore refused)")
        else:
            out.append(path)
            log(f"  {name:<28} {path.stat().st_size / 1e6:7.1f} MB  {path.name}")

    add("python (cryptography)", _hold([sys.executable, "-c", PY_HOLDER, str(heap_mb)], work / "python.core"))
    key, cert = _key_and_cert(work)
    if shutil.which("openssl"):
        port = _free_port()
        add("openssl s_server", _hold(["openssl", "s_server", "-quiet", "-key", str(key), "-cert", str(cert),
                                       "-accept", f"127.0.0.1:{port}", "-www"], work / "s_server.core",
                                      ready=lambda p: _listening(port, p)))
    if shutil.which("ssh-agent") and shutil.which("ssh-add") and shutil.which("ssh-keygen"):
        sock = work / "agent.sock"
        agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if sock.exists():
                    break
                time.sleep(0.05)
            ident = work / "id_ed25519"
            rsa_ident = work / "id_rsa"
            for old in (ident, rsa_ident):  # a kept workdir of an earlier run: new keys (ssh-keygen would ask)
                old.unlink(missing_ok=True)
                old.with_suffix(".pub").unlink(missing_ok=True)
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ident)], check=True)
            subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(rsa_ident)], check=True)
            env = dict(os.environ, SSH_AUTH_SOCK=str(sock))
            subprocess.run(["ssh-add", str(ident), str(rsa_ident)], env=env, capture_output=True)
            add("ssh-agent", gcore(agent.pid, work / "ssh-agent.core"))
        finally:
            agent.kill()
            agent.wait()
    if shutil.which("node"):
        add("node (crypto)", _hold(["node", "-e", NODE_HOLDER, "x", str(heap_mb // 2)], work / "node.core"))
    if shutil.which("java"):
        src = work / "Holder.java"
        src.write_text(JAVA_HOLDER)
        add("java (JCA)", _hold(["java", f"-Xmx{java_heap_mb}m", "-XX:+UseSerialGC", "-XX:ReservedCodeCacheSize=32m",
                                 "-XX:CompressedClassSpaceSize=64m", str(src), str(heap_mb // 2)], work / "java.core"))
    if shutil.which("nginx"):
        port = _free_port()
        conf = work / "nginx.conf"
        conf.write_text(f"daemon off; master_process off; pid {work}/nginx.pid; error_log stderr;\n"
                        f"events {{}}\nhttp {{ access_log off; server {{ listen 127.0.0.1:{port} ssl;\n"
                        f"ssl_certificate {cert}; ssl_certificate_key {key}; }} }}\n")
        add("nginx (TLS)", _hold(["nginx", "-p", str(work), "-c", str(conf)], work / "nginx.core",
                                 ready=lambda p: _listening(port, p)))
    return out


def sample_dumps(samples: Path, work: Path, log: Callable[[str], None] = print) -> list[Path]:
    """The real samples (a Python gcore, a Wine minidump), decompressed into ``work``."""
    out = []
    for xz in sorted(samples.glob("*.xz")):
        target = work / xz.name[:-3]
        if not target.exists():
            with lzma.open(xz) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 8 * MiB)
        out.append(target)
        log(f"  {'sample ' + xz.name[:-3]:<28} {target.stat().st_size / 1e6:7.1f} MB")
    return out
