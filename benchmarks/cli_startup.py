"""Start-up of the `tracking-demo` command, before and after a change, side by side.

Run: .venv/bin/python benchmarks/cli_startup.py [--repeats 5] [--baseline-ref ec0ca50]
     [--after-ref REF] [--commands help,status,train]

"Before" is `src/` of `--baseline-ref` (default: ec0ca50, the CLI that imported MLflow at start-up)
extracted with `git archive` into a temporary folder; "after" is this working tree's `src/`, or
`--after-ref`'s when given. Both run with this interpreter and its installed dependencies, the
same way: `python -c "sys.path.insert(0, SRC); runpy.run_module('tracking_demo', ...)"`, which is
`python -m tracking_demo` whatever module holds `main()` in that ref.
Each command is measured in a fresh process:

- help:   `tracking-demo --help`;
- status: `tracking-demo server status --data-dir EMPTY` (no server there: exit 1 expected);
- train:  `tracking-demo train moons` on generated two-moons data against a local MLflow server
  started on a free port, with a one-candidate grid (n_estimators=10, criterion=gini,
  max_depth=2, 2 folds) so that start-up, not the search, is most of it.

Printed: CPU seconds (user + system of the child and what it waited for, from
`resource.getrusage(RUSAGE_CHILDREN)` deltas) and wall seconds, each the median over
`--repeats` after one untimed warm-up run (bytecode compiled, files cached). Before and after
alternate within every repeat, in an order that flips between repeats, so that load from other
work on the machine falls on both alike.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASELINE = "ec0ca50"
COMMANDS = ("help", "status", "train")
EXPECTED_EXIT = {"help": 0, "status": 1, "train": 0}
TINY_GRID = ("--grid", "n_estimators=10", "--grid", "criterion=gini", "--grid", "max_depth=2")
# `python -m tracking_demo` from the given `src/` folder rather than the install: the same in
# every ref, wherever that ref's `main()` lives.
LAUNCH = (
    "import runpy, sys; sys.path.insert(0, sys.argv[1]); "
    "sys.argv = ['tracking-demo', *sys.argv[2:]]; "
    "runpy.run_module('tracking_demo', run_name='__main__', alter_sys=True)"
)


@dataclass
class Figures:
    cpu_s: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)


def extract_src(ref: str, into: Path) -> Path:
    """`src/` of the git `ref` under `into` (the package only: no install, no other files)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "src"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def benchmark_env(root: Path) -> dict[str, str]:
    """The commands' environment: no MLflow variable of the user's, run logs under `root`."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "TRACKING_DEMO_RUNS_DIR": str(root / "runs"),
    }


def sources(baseline_ref: str, after_ref: str | None, root: Path) -> dict[str, Path]:
    """`src/` of "before" and "after" (this working tree unless `after_ref`), both checked."""
    found = {"before": extract_src(baseline_ref, root / "before")}
    found["after"] = extract_src(after_ref, root / "after") if after_ref else ROOT / "src"
    for src in found.values():
        check_source(src)
    return found


def check_source(src: Path) -> None:
    """The launcher must import tracking_demo from `src`, not from the installed checkout."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import tracking_demo as t; print(t.__file__)"
    )
    found = subprocess.run(
        [sys.executable, "-c", code, str(src)], check=True, capture_output=True, text=True
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(src.resolve()):
        raise RuntimeError(f"{src}: tracking_demo came from {found}")


def run_once(src: Path, args: list[str], expected: int, env: dict[str, str]) -> tuple[float, float]:
    """CPU and wall seconds of one `tracking-demo ARGS` from `src`; checks its exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(src), *args], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != expected:
        raise RuntimeError(
            f"tracking-demo {' '.join(args)} ({src}) exited {done.returncode}, expected "
            f"{expected}:\n{done.stdout}{done.stderr}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def command_args(name: str, root: Path, tracking_uri: str | None) -> list[str]:
    if name == "help":
        return ["--help"]
    if name == "status":
        return ["server", "status", "--data-dir", str(root / "no-server")]
    assert tracking_uri is not None
    return [
        *("train", "moons", "--data", str(root / "moons"), "--tracking-uri", tracking_uri),
        *TINY_GRID,
        *("--cv", "2", "--experiment", "cli-startup"),
    ]


def _table(results: dict[str, dict[str, Figures]], labels: dict[str, str]) -> str:
    header = (
        f"{'command':10} {'before CPU s':>12} {'after CPU s':>12} {'CPU ratio':>10} "
        f"{'before wall s':>14} {'after wall s':>13} {'wall ratio':>11}"
    )
    lines = [header, "-" * len(header)]
    for name, sides in results.items():
        cpu = {side: statistics.median(f.cpu_s) for side, f in sides.items()}
        wall = {side: statistics.median(f.wall_s) for side, f in sides.items()}
        lines.append(
            f"{name:10} {cpu['before']:12.2f} {cpu['after']:12.2f} "
            f"{cpu['before'] / cpu['after']:9.1f}x {wall['before']:14.2f} {wall['after']:13.2f} "
            f"{wall['before'] / wall['after']:10.1f}x"
        )
    lines.append(f"before = {labels['before']}, after = {labels['after']}; ratio = before / after")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of every command")
    parser.add_argument(
        "--baseline-ref", default=DEFAULT_BASELINE, help="git ref of 'before' [%(default)s]"
    )
    parser.add_argument("--after-ref", help="git ref of 'after' [default: the working tree]")
    parser.add_argument(
        "--commands",
        default=",".join(COMMANDS),
        help=f"comma-separated subset of {', '.join(COMMANDS)} [%(default)s]",
    )
    args = parser.parse_args()
    commands = [name.strip() for name in args.commands.split(",") if name.strip()]
    if unknown := set(commands) - set(COMMANDS):
        parser.error(f"unknown commands: {', '.join(sorted(unknown))}")

    from tracking_demo.data.moons import MoonsSpec, write
    from tracking_demo.server.local import LocalServer
    from tracking_demo.server.processes import find_free_port

    with tempfile.TemporaryDirectory(prefix="cli-startup-") as tmp:
        root = Path(tmp)
        env = benchmark_env(root)
        trees = sources(args.baseline_ref, args.after_ref, root)
        labels = {"before": args.baseline_ref, "after": args.after_ref or "working tree"}
        server = None
        if "train" in commands:
            write(MoonsSpec(), root / "moons")
            server = LocalServer(root / "server", port=find_free_port())
            server.start()
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load "
            f"{os.getloadavg()[0]:.2f}; {args.repeats} repeats; commands {', '.join(commands)}",
            flush=True,
        )
        results = {name: {side: Figures() for side in trees} for name in commands}
        try:
            for repeat in range(-1, args.repeats):  # -1: the untimed warm-up
                order = list(trees) if repeat % 2 == 0 else list(trees)[::-1]
                for name in commands:
                    command = command_args(name, root, server.uri if server else None)
                    for side in order:
                        cpu, wall = run_once(trees[side], command, EXPECTED_EXIT[name], env)
                        if repeat < 0:
                            continue
                        results[name][side].cpu_s.append(cpu)
                        results[name][side].wall_s.append(wall)
                        print(
                            f"  repeat {repeat + 1}: {name:7} {side:6} CPU {cpu:6.2f} s, "
                            f"wall {wall:6.2f} s",
                            flush=True,
                        )
        finally:
            if server is not None:
                server.stop()
    print(f"\nload at end {os.getloadavg()[0]:.2f}; medians over {args.repeats} repeats\n")
    print(_table(results, labels))


if __name__ == "__main__":
    main()
