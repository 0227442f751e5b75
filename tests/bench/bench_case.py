#!/usr/bin/env python3
"""Benchmark of the case file (issue 6): a case with 100,000 findings saves and opens in under 2 s.

Not a test: a script that prints numbers. Findings are shaped like the scanner's (``Finding.to_json``),
with a review on every tenth; the case has one passphrase slot at the default (OWASP) KDF cost, which is
part of every open.

Usage: .venv/bin/python tests/bench/bench_case.py [--findings N]
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from viewer.case import create_case, open_case  # noqa: E402

TARGET_S = 2.0
PASSPHRASE = "bench passphrase, not a secret"


def finding(i: int) -> dict:
    kind = ("rsa-private-key", "aes-key", "jwt", "high-entropy")[i % 4]
    return {
        "id": hashlib.sha256(f"{kind}:{i * 4096}:{64 + i % 512}".encode()).hexdigest()[:16],
        "kind": kind, "encoding": "raw-bignum", "offset": i * 4096, "length": 64 + i % 512,
        "vaddr": 0x7F0000000000 + i * 4096, "region": f"heap [{i % 37}]", "confidence": "confirmed",
        "reasons": ["p*q = n", "e*d = 1 mod lambda(n)"], "key_id": f"kid-{i % 1000:04d}", "matches": [],
        "secret": True, "details": {"algorithm": "RSA", "bits": 2048},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=100_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ev-bench-case-"))
    path = work / "big.evcase"
    cf = create_case(path, "benchmark", "bench examiner", passphrase=PASSPHRASE, use_keyring=False)
    ref = cf.add_evidence(REPO / "resources" / "sample" / "demo-keyholder.core")
    sha = ref.sha256
    cf.merge_scan(sha, [finding(i) for i in range(args.findings)], {"detectors": "default"})
    for i in range(0, args.findings, 10):
        cf.annotate(finding(i)["id"], status="confirmed", comment=f"checked {i}", evidence_sha256=sha)
    started = time.perf_counter()
    cf.save()
    save_s = time.perf_counter() - started
    started = time.perf_counter()
    reopened = open_case(path, passphrase=PASSPHRASE, use_keyring=False)
    open_s = time.perf_counter() - started
    assert len(reopened.case.findings) == args.findings
    size = path.stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ok = save_s < TARGET_S and open_s < TARGET_S
    print(f"case with {args.findings} findings ({args.findings // 10} reviewed): file {size / 1e6:.1f} MB")
    print(f"save {save_s:.2f} s, open {open_s:.2f} s (target < {TARGET_S} s each), peak RSS {peak:.0f} MB"
          f"  {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
