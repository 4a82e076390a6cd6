"""Wall times a new user waits for, before and after a change, side by side.

Run: .venv/bin/python benchmarks/foundation_timings.py [--repeats 3] [--baseline-ref ec0ca50]
     [--after-ref REF] [--measures server,train,quickstart]

- server:     `tracking-demo server start` on a fresh folder and a free port, until it answers
  `/health` (the command returns then); the server is stopped afterwards, untimed;
- train:      `tracking-demo train moons` with the default grid against a running local server;
- quickstart: `tracking-demo quickstart` from a fresh folder (so it starts its server too).

"Before" and "after" are `src/` of two git refs (after: this working tree unless `--after-ref`),
run with this interpreter and its installed dependencies, as benchmarks/cli_startup.py does.
Each measure alternates before and after within a repeat, in an order that flips between
repeats, after one untimed warm-up of each; printed are the medians and the spread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cli_startup import DEFAULT_BASELINE, LAUNCH, benchmark_env, sources

from tracking_demo.data.moons import MoonsSpec, write
from tracking_demo.server.local import LocalServer
from tracking_demo.server.processes import find_free_port

MEASURES = ("server", "train", "quickstart")


def _cli(src: Path, args: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(src), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"tracking-demo {' '.join(args)} ({src}):\n{done.stdout}{done.stderr}")
    return elapsed


def measure(
    name: str, src: Path, root: Path, env: dict[str, str], server_uri: str
) -> Callable[[], float]:
    """One timed run of `name` from `src`, in a fresh folder under `root`."""

    def run() -> float:
        folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
        if name == "train":
            args = ["train", "moons", "--data", str(root / "moons"), "--tracking-uri", server_uri]
            return _cli(src, args, env, folder)
        data_dir = folder / ".tracking"
        port = str(find_free_port())
        command = ["server", "start"] if name == "server" else ["quickstart"]
        try:
            return _cli(src, [*command, "--data-dir", str(data_dir), "--port", port], env, folder)
        finally:
            LocalServer(data_dir).stop()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-ref", default=DEFAULT_BASELINE, help="[%(default)s]")
    parser.add_argument("--after-ref", help="[default: the working tree]")
    parser.add_argument("--measures", default=",".join(MEASURES), help="[%(default)s]")
    args = parser.parse_args()
    names = [n.strip() for n in args.measures.split(",") if n.strip()]
    if unknown := set(names) - set(MEASURES):
        parser.error(f"unknown measures: {', '.join(sorted(unknown))}")

    with tempfile.TemporaryDirectory(prefix="foundation-") as tmp:
        root = Path(tmp)
        env = benchmark_env(root)
        trees = sources(args.baseline_ref, args.after_ref, root)
        write(MoonsSpec(), root / "moons")
        server = LocalServer(root / "server", port=find_free_port())
        server.start()
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load "
            f"{os.getloadavg()[0]:.2f}; {args.repeats} repeats",
            flush=True,
        )
        times: dict[str, dict[str, list[float]]] = {n: {s: [] for s in trees} for n in names}
        try:
            for repeat in range(-1, args.repeats):  # -1: the untimed warm-up
                order = list(trees) if repeat % 2 == 0 else list(trees)[::-1]
                for name in names:
                    for side in order:
                        elapsed = measure(name, trees[side], root, env, server.uri)()
                        print(f"  repeat {repeat + 1}: {name:10} {side:6} {elapsed:6.1f} s")
                        if repeat >= 0:
                            times[name][side].append(elapsed)
        finally:
            server.stop()

    after_label = args.after_ref or "working tree"
    print(f"\nload at end {os.getloadavg()[0]:.2f}; wall seconds, median [min-max]\n")
    print(f"{'measure':<12} {'before':>18} {'after':>18} {'ratio':>7}")
    for name, sides in times.items():
        cells = [
            f"{statistics.median(t):5.1f} [{min(t):4.1f}-{max(t):4.1f}]" for t in sides.values()
        ]
        ratio = statistics.median(sides["before"]) / statistics.median(sides["after"])
        print(f"{name:<12} {cells[0]:>18} {cells[1]:>18} {ratio:6.2f}x")
    print(f"before = {args.baseline_ref}, after = {after_label}; ratio = before / after")


if __name__ == "__main__":
    main()
