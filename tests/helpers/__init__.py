"""Test helpers, imported as a package (`from tests.helpers.vectors import CASES`).

`REPO` is the repository root and `VECTORS` the vendored HCC1 conformance vectors (`tests/data/hcc1/`); no
test reads anything outside the repository.

    vectors.py     the conformance cases run through the library the way the CLI runs them
    payloads.py    fresh signed codes and conformance payloads for decoding, source and pipeline tests
    notifysock.py  a real datagram socket standing in for systemd's $NOTIFY_SOCKET
    faultproxy.py  a PKI for mutual TLS, the hub as a real process, and a fault-injecting proxy
    fakes.py       fakes for hardware that is not here (a USB camera that is plugged and unplugged)
    serialpty.py   a serial scanner on a real pseudo-terminal
    certlogic.py   the vendored CertLogic specification test suite as assertions, and chai's deepEqual
    cli.py         `checkpoint ARGS` run as a process from this checkout
    visits.py      visits appended to a device's log for sync tests
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

VECTORS = REPO / "tests" / "data" / "hcc1"

CERTLOGIC_SUITE = REPO / "tests" / "data" / "certlogic" / "testSuite"
