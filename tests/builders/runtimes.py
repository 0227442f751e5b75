"""Live processes of other runtimes holding keys they generated: Go (standard library only), the JVM,
Node.js and nginx serving TLS. Each prints the public truth the test checks against (public keys as
SPKI DER, symmetric keys in hex — test data, generated fresh per run), then ``ready``, and waits on stdin
while the test dumps it with gcore (:func:`tests.builders.live.gcore`); the JVM is also written as an
HPROF heap dump with ``jcmd PID GC.heap_dump``.

The Debian packages these need (golang-go, default-jdk-headless, nodejs, nginx-light, curl) are installed
by ``make deps`` (``RUNTIME_DEB_PACKAGES``); a test whose runtime is missing fails with that hint rather
than skipping, since CI installs them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.builders.live import gcore

GO_HOLDER = r"""
package main

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"os"
	"runtime"
)

func main() {
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	msg := []byte("evidence viewer live test")
	edSig := ed25519.Sign(edPriv, msg)
	hkey := make([]byte, 32)
	rand.Read(hkey)
	mac := hmac.New(sha256.New, hkey)
	mac.Write(msg)
	tag := mac.Sum(nil)
	digest := sha256.Sum256(msg)
	eck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecSig, _ := ecdsa.SignASN1(rand.Reader, eck, digest[:])
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rSig, _ := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, digest[:])
	ecPub, _ := x509.MarshalPKIXPublicKey(&eck.PublicKey)
	rsaPub, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	edSpki, _ := x509.MarshalPKIXPublicKey(edPub)
	fmt.Printf("ed25519 %x\nhmac %x\nec %x\nrsa %x\n", edSpki, hkey, ecPub, rsaPub)
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	runtime.KeepAlive(edSig)
	runtime.KeepAlive(tag)
	runtime.KeepAlive(ecSig)
	runtime.KeepAlive(rSig)
	runtime.KeepAlive(edPriv)
	runtime.KeepAlive(mac)
	runtime.KeepAlive(eck)
	runtime.KeepAlive(rk)
}
"""

GO_CONTROL = r"""
package main

import (
	"bufio"
	"compress/gzip"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
)

func main() {
	noise := make([]byte, 4<<20)
	rand.Read(noise)
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(w, "line %d of a log that compresses %x\n", i, noise[i*8:i*8+8])
	}
	w.Close()
	sum := sha256.Sum256(noise)
	fmt.Printf("sum %x\n", sum)
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	runtime.KeepAlive(noise)
	runtime.KeepAlive(z.Bytes())
}
"""

JAVA_HOLDER = r"""
import java.security.*;
import javax.crypto.*;
import javax.crypto.spec.*;
import java.util.HexFormat;

public class Holder {
    static Object[] keep;
    public static void main(String[] args) throws Exception {
        HexFormat hex = HexFormat.of();
        KeyPairGenerator rg = KeyPairGenerator.getInstance("RSA");
        rg.initialize(2048);
        KeyPair rsa = rg.generateKeyPair();
        Signature rs = Signature.getInstance("SHA256withRSA");
        rs.initSign(rsa.getPrivate()); rs.update("evidence".getBytes()); byte[] rsig = rs.sign();
        KeyPairGenerator eg = KeyPairGenerator.getInstance("EC");
        eg.initialize(new java.security.spec.ECGenParameterSpec("secp256r1"));
        KeyPair ec = eg.generateKeyPair();
        Signature es = Signature.getInstance("SHA256withECDSA");
        es.initSign(ec.getPrivate()); es.update("evidence".getBytes()); byte[] esig = es.sign();
        KeyPair ed = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        Signature ds = Signature.getInstance("Ed25519");
        ds.initSign(ed.getPrivate()); ds.update("evidence".getBytes()); byte[] dsig = ds.sign();
        SecureRandom sr = new SecureRandom();
        byte[] hk = new byte[32]; sr.nextBytes(hk);
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(hk, "HmacSHA256"));
        mac.update("evidence".getBytes());
        byte[] tag = mac.doFinal();
        byte[] ak = new byte[32]; sr.nextBytes(ak);
        SecretKeySpec aes = new SecretKeySpec(ak, "AES");
        Cipher enc = Cipher.getInstance("AES/CBC/PKCS5Padding");
        enc.init(Cipher.ENCRYPT_MODE, aes, new IvParameterSpec(new byte[16]));
        byte[] ct = enc.doFinal(new byte[100]);
        Cipher dec = Cipher.getInstance("AES/CBC/PKCS5Padding");
        dec.init(Cipher.DECRYPT_MODE, aes, new IvParameterSpec(new byte[16]));
        byte[] pt = dec.doFinal(ct);
        keep = new Object[] {rsa, ec, ed, mac, enc, dec, rsig, esig, dsig, tag, pt};
        System.out.println("rsa " + hex.formatHex(rsa.getPublic().getEncoded()));
        System.out.println("ec " + hex.formatHex(ec.getPublic().getEncoded()));
        System.out.println("ed25519 " + hex.formatHex(ed.getPublic().getEncoded()));
        System.out.println("hmac " + hex.formatHex(hk));
        System.out.println("aes " + hex.formatHex(ak));
        System.out.println("ready");
        System.out.flush();
        System.in.read();
        System.out.println(keep.length);
    }
}
"""

JAVA_EC_CURVES = r"""
import java.security.*;
import java.util.HexFormat;

public class Holder {
    static Object[] keep;
    public static void main(String[] args) throws Exception {
        HexFormat hex = HexFormat.of();
        String[][] curves = {{"p384", "secp384r1", "SHA384withECDSA"}, {"p521", "secp521r1", "SHA512withECDSA"}};
        keep = new Object[curves.length * 2];
        for (int i = 0; i < curves.length; i++) {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new java.security.spec.ECGenParameterSpec(curves[i][1]));
            KeyPair kp = g.generateKeyPair();
            Signature s = Signature.getInstance(curves[i][2]);
            s.initSign(kp.getPrivate()); s.update("evidence".getBytes());
            keep[2 * i] = kp; keep[2 * i + 1] = s.sign();
            System.out.println(curves[i][0] + " " + hex.formatHex(kp.getPublic().getEncoded()));
        }
        System.out.println("ready");
        System.out.flush();
        System.in.read();
        System.out.println(keep.length);
    }
}
"""

JAVA_CONTROL = r"""
import java.security.*;
import java.util.*;

public class Holder {
    static Object[] keep;
    public static void main(String[] args) throws Exception {
        byte[] noise = new byte[4 << 20];
        new SecureRandom().nextBytes(noise);
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        byte[] sum = md.digest(noise);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 20000; i++) text.append("line ").append(i).append(" of a log\n");
        keep = new Object[] {noise, sum, text.toString()};
        System.out.println("sum " + HexFormat.of().formatHex(sum));
        System.out.println("ready");
        System.out.flush();
        System.in.read();
        System.out.println(keep.length);
    }
}
"""

NODE_HOLDER = r"""
const crypto = require('crypto');
const spki = k => k.export({type: 'spki', format: 'der'}).toString('hex');
const rsa = crypto.generateKeyPairSync('rsa', {modulusLength: 2048});
const ec = crypto.generateKeyPairSync('ec', {namedCurve: 'P-256'});
const ed = crypto.generateKeyPairSync('ed25519');
const msg = Buffer.from('evidence viewer live test');
const sigs = [crypto.sign('sha256', msg, rsa.privateKey), crypto.sign('sha256', msg, ec.privateKey),
              crypto.sign(null, msg, ed.privateKey)];
const ak = crypto.randomBytes(32);
const cipher = crypto.createCipheriv('aes-256-gcm', ak, crypto.randomBytes(12));
cipher.update(msg);
globalThis.keep = [rsa, ec, ed, sigs, cipher];
console.log('rsa ' + spki(rsa.publicKey));
console.log('ec ' + spki(ec.publicKey));
console.log('ed25519 ' + spki(ed.publicKey));
console.log('aes ' + ak.toString('hex'));
console.log('ready');
process.stdin.on('data', () => process.exit(0));
"""

NODE_CONTROL = r"""
const big = Buffer.alloc(4 << 20);
let x = 0x9e3779b9;
for (let i = 0; i < big.length; i += 4) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; big.writeUInt32LE(x >>> 0, i); }
globalThis.keep = [big, 'line of a log '.repeat(10000), JSON.stringify({user: 'alice', n: 42})];
console.log('sum ' + big.readUInt32LE(0));
console.log('ready');
process.stdin.on('data', () => process.exit(0));
"""


def _need(tool: str, package: str) -> str:
    exe = shutil.which(tool)
    assert exe is not None, f"{tool} is not installed: `make deps` installs {package}"
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def holding(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
            ) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """Run ``cmd`` until it prints ``ready``; yield it with the ``name value`` lines it printed before."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=cwd)
    truth: dict[str, str] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.strip()
            if line == "ready":
                break
            name, _, value = line.partition(" ")
            truth[name] = value
        else:
            err = proc.stderr.read() if proc.stderr is not None else ""
            pytest.fail(f"{cmd[0]} ended before it was ready: {err[-500:]}")
        yield proc, truth
    finally:
        proc.kill()
        proc.wait()


def go_dump(tmp: Path, source: str, core: Path) -> dict[str, str]:
    """Build ``source`` (one Go file, standard library only) and dump the running program."""
    go = _need("go", "golang-go")
    (tmp / "main.go").write_text(source)
    env = dict(os.environ, HOME=str(tmp), GOCACHE=str(tmp / "gocache"), GO111MODULE="off", GOFLAGS="",
               GOTOOLCHAIN="local", CGO_ENABLED="0")
    built = subprocess.run([go, "build", "-o", str(tmp / "holder"), str(tmp / "main.go")], capture_output=True,
                           text=True, env=env, timeout=300)
    assert built.returncode == 0, built.stderr[-1000:]
    with holding([str(tmp / "holder")]) as (proc, truth):
        gcore(proc.pid, core)
    return truth


JVM_OPTIONS = ["-Xmx64m", "-XX:+UseSerialGC", "-XX:ReservedCodeCacheSize=16m", "-XX:CompressedClassSpaceSize=16m"]


def java_dump(tmp: Path, source: str, core: Path | None, hprof: Path | None = None) -> dict[str, str]:
    """Compile ``source`` (class ``Holder``), run it in a small JVM, dump it with gcore (first: the
    process as it was) and, when asked, write its heap with ``jcmd PID GC.heap_dump``."""
    javac = _need("javac", "default-jdk-headless")
    java = _need("java", "default-jdk-headless")
    (tmp / "Holder.java").write_text(source)
    built = subprocess.run([javac, "-d", str(tmp), str(tmp / "Holder.java")], capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr[-1000:]
    env = dict(os.environ, MALLOC_ARENA_MAX="2")
    with holding([java, *JVM_OPTIONS, "-cp", str(tmp), "Holder"], env=env) as (proc, truth):
        if core is not None:
            gcore(proc.pid, core)
        if hprof is not None:
            jcmd = _need("jcmd", "default-jdk-headless")
            done = subprocess.run([jcmd, str(proc.pid), "GC.heap_dump", str(hprof)], capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0 and hprof.exists(), done.stdout[-500:] + done.stderr[-500:]
    return truth


def node_dump(source: str, core: Path) -> dict[str, str]:
    node = _need("node", "nodejs")
    with holding([node, "-e", source]) as (proc, truth):
        gcore(proc.pid, core)
    return truth


NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} {ssl};
        {certs}
        location / {{ return 200 "hello\\n"; }}
    }}
}}
"""


def nginx_dump(tmp: Path, core: Path, certs: list[tuple[Path, Path]], handshakes: int = 4) -> None:
    """nginx (one process, no master) serving TLS with each (certificate, key) — or plain HTTP when
    ``certs`` is empty — after ``handshakes`` real requests with curl, dumped with gcore."""
    nginx = _need("nginx", "nginx-light")
    curl = _need("curl", "curl")
    port = free_port()
    lines = " ".join(f"ssl_certificate {c}; ssl_certificate_key {k};" for c, k in certs)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=tmp, port=port, ssl="ssl" if certs else "", certs=lines))
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        scheme = "https" if certs else "http"
        deadline = time.monotonic() + 20
        while True:
            got = subprocess.run([curl, "-sk", f"{scheme}://127.0.0.1:{port}/"], capture_output=True, timeout=20)
            if got.returncode == 0:
                break
            assert proc.poll() is None, (tmp / "error.log").read_text()[-500:] if (tmp / "error.log").exists() else ""
            assert time.monotonic() < deadline, "nginx did not answer"
            time.sleep(0.2)
        for i in range(handshakes):
            ciphers = ["--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384"] if certs and i % 2 else []
            subprocess.run([curl, "-sk", "--tls-max", "1.2", *ciphers, f"{scheme}://127.0.0.1:{port}/"],
                           capture_output=True, timeout=20)
        gcore(proc.pid, core)
    finally:
        proc.kill()
        proc.wait()
