"""The fault suite (`benchmarks/faults.py`) with a small campaign: PostgreSQL and a
three-broker Kafka cluster of its own, relay, projector, two gateways and three dispatchers,
every kind of fault injected while two streams send; every check it prints must pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks._topology import ROOT


def test_every_recipient_is_messaged_exactly_once_whatever_the_faults(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.faults",
            *("--recipients", "16000", "--rate", "150", "--lease", "3"),
            *("--dir", str(tmp_path / "run")),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )

    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr[-5000:]
    assert "FAILED" not in run.stdout
    for check in (
        "both campaigns Finished",
        "every recipient in the carriers' books exactly once",
        "campaigns verify",
        "every owner change of a stream in the audit trail",
    ):
        assert f"[ok] {check}" in run.stdout
