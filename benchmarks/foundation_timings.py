"""Wall times a user waits for: server start to healthy, `train moons`, `quickstart`.

Run: .venv/bin/python benchmarks/foundation_timings.py [--repeats 5]
Prints the median and the spread of each, measured in one process run on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tracking_demo.data.moons import MoonsSpec, write
from tracking_demo.server import LocalServer, find_free_port


def _cli(*args: str, cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tracking_demo", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def server_start(repeats: int, root: Path) -> list[float]:
    times = []
    for index in range(repeats):
        server = LocalServer(root / f"start-{index}", port=find_free_port())
        started = time.perf_counter()
        server.start()
        times.append(time.perf_counter() - started)
        server.stop()
    return times


def train_moons(repeats: int, root: Path) -> list[float]:
    server = LocalServer(root / "train", port=find_free_port())
    server.start()
    data = root / "moons"
    write(MoonsSpec(), data)
    try:
        return [
            _cli("train", "moons", "--data", str(data), "--tracking-uri", server.uri, cwd=root)
            for _ in range(repeats)
        ]
    finally:
        server.stop()


def quickstart(repeats: int, root: Path) -> list[float]:
    """Each repeat from a fresh data folder, so it includes starting the server."""
    times = []
    for index in range(repeats):
        data_dir = root / f"qs-{index}"
        port = str(find_free_port())
        try:
            times.append(_cli("quickstart", "--data-dir", str(data_dir), "--port", port, cwd=root))
        finally:
            LocalServer(data_dir).stop()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results = {
            "server start -> healthy": server_start(args.repeats, root),
            "train moons (CLI, default grid)": train_moons(args.repeats, root),
            "quickstart (fresh, incl. server start)": quickstart(args.repeats, root),
        }
    print(f"{'measure':<42} {'median s':>9} {'min s':>7} {'max s':>7}  (n={args.repeats})")
    for name, times in results.items():
        print(f"{name:<42} {statistics.median(times):>9.1f} {min(times):>7.1f} {max(times):>7.1f}")


if __name__ == "__main__":
    main()
