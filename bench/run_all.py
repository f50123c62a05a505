"""Run every benchmark script in bench/ (except this one), in name order, printing their output."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def calibration_ms() -> float:
    """Best of 5 runs of a fixed pure-Python loop (2 million additions and dict stores), in milliseconds: the
    machine's speed at interpreted code, so figures from different machines can be compared. Most benchmarks here
    run Python; on the machines seen so far they scaled with this figure, while the C++ router's did not."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        d: dict[int, int] = {}
        s = 0
        for i in range(2_000_000):
            s += i
            d[i & 1023] = s
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def main() -> int:
    """Run each `bench/*.py`; the exit status is non-zero if any script failed."""
    here = Path(__file__).resolve().parent
    print(f"python {sys.version.split()[0]} at {os.path.realpath(sys.executable)}; machine calibration: pure-Python "
          f"loop {calibration_ms():.0f} ms (best of 5; smaller is faster)", flush=True)
    failed = []
    for script in sorted(here.glob("*.py")):
        if script.name == Path(__file__).name or script.name.startswith("_"):
            continue
        print(f"\n=== {script.name} ===", flush=True)
        if subprocess.run([sys.executable, str(script)], check=False).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
