"""Scoring latency of `tracking-demo serve` against `mlflow models serve`, same model, side by side.

Run: .venv/bin/python benchmarks/serving_latency.py [--rates 10,50,100] [--rows 1,100]
     [--duration 10] [--model-kind cnn|logreg | --model-dir MLFLOW_MODEL_DIR]

The benchmark builds its model offline first: the MNIST CNN of `mnist_models.build_cnn()` trained
one epoch on the 4,000-digit sample (`--model-kind logreg`: scikit-learn's LogisticRegression),
saved as an MLflow model in a temporary folder; `--model-dir` serves an existing one instead.
Both servers then run at once on free loopback ports, each as its own process group, and are
stopped at the end (SIGTERM, then SIGKILL), also on errors, Ctrl-C and SIGTERM:

- ours: `tracking-demo serve MODEL --port P` with a key, `POST /score` with `{"data": [...]}`;
- MLflow's: `mlflow models serve -m MODEL --env-manager local` (its default of 1 uvicorn
  worker), `POST /invocations` with `{"inputs": [...]}`.

Before any timing, both must give the same labels for the same 20 test images (MLflow answers
the Keras model's probabilities; their argmax is compared). Then, for every request size
(`--rows`: images per request) and rate, each server in turn is driven by a separate process
(this file with `--drive`), on an open-loop schedule: request i is due at t0 + i/rate and handed
to a small thread pool (one keep-alive `requests.Session` per thread), so a slow answer does not
delay the next send; latency runs from the time a request was due to its answer, so queueing in
the client counts too (no coordinated omission). Each drive warms up its connections and the
model first. Bodies are encoded before the clock starts, as `json.dumps(x.tolist())` of the
float32 pixels, the way the tutorials' clients send them.

Printed: p50 and p99 latency, achieved throughput (answers per second) and errors (non-200,
wrong answer length, transport errors, requests still queued when the drive gave up), for both
servers, and the ratio of p99s (MLflow / ours); then the goal below and whether ours met it. The
two servers alternate order between cells, so machine noise falls on both. On a 2-core machine
the client, both servers and TensorFlow's thread pools share the cores: compare the columns, not
the absolute figures against another machine.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import requests

from tracking_demo.server.processes import (
    find_free_port,
    start_group,
    stop_process_group,
    wait_answering,
)

GOAL_ROWS, GOAL_RATE, GOAL_P99_MS = 1, 50.0, 25.0
GOAL = f"p99 < {GOAL_P99_MS:g} ms for {GOAL_ROWS} MNIST image at {GOAL_RATE:g} req/s"
KEY_VARIABLE = "SERVING_LATENCY_KEY"  # hands the key to drivers without putting it in argv
CHECK_IMAGES = 20
BIN = Path(sys.executable).parent


# --- the driver (runs in its own process) ------------------------------------------------------


def _percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least `fraction` of the values at or below it."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(np.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


def _answer_rows(style: str, answer: Any) -> int:
    predictions = answer if style == "ours" else answer["predictions"]
    return len(predictions)


def drive(spec: dict[str, Any]) -> dict[str, Any]:
    """Open-loop load on one endpoint at one rate; returns latencies' summary and errors."""
    rows, rate, threads = int(spec["rows"]), float(spec["rate"]), int(spec["threads"])
    style, timeout = spec["style"], float(spec["timeout"])
    images = np.load(spec["images"])
    field = "data" if style == "ours" else "inputs"
    count = max(1, min(20, len(images) // rows))
    bodies = [
        json.dumps({field: images[i * rows : (i + 1) * rows].tolist()}).encode()
        for i in range(count)
    ]
    headers = {"Content-Type": "application/json"}
    if style == "ours":
        headers["Authorization"] = f"Bearer {os.environ[KEY_VARIABLE]}"
    local = threading.local()

    def send(due: float, body: bytes) -> tuple[float, float, str | None]:
        """(latency s, answered at, error or None); latency counts from when it was due."""
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        try:
            response = session.post(spec["url"], data=body, headers=headers, timeout=timeout)
        except requests.RequestException as error:
            return 0.0, time.perf_counter(), f"{type(error).__name__}: {error}"
        answered = time.perf_counter()
        if response.status_code != 200:
            return 0.0, answered, f"HTTP {response.status_code}: {response.text[:200]}"
        if (n := _answer_rows(style, response.json())) != rows:
            return 0.0, answered, f"{n} answers for {rows} rows"
        return answered - due, answered, None

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="send") as pool:
        # Warm-up: every thread opens its connection; the server sees this batch shape.
        warm = [pool.submit(send, time.perf_counter(), bodies[0]) for _ in range(2 * threads)]
        for future in warm:
            if (error := future.result()[2]) is not None:
                return {"error": f"warm-up failed: {error}"}
        n = max(1, round(rate * float(spec["duration"])))
        futures: list[Future[tuple[float, float, str | None]]] = []
        max_lag = 0.0
        t0 = time.perf_counter() + 0.05
        for i in range(n):
            due = t0 + i / rate
            if (pause := due - time.perf_counter()) > 0:
                time.sleep(pause)
            max_lag = max(max_lag, time.perf_counter() - due)
            futures.append(pool.submit(send, due, bodies[i % count]))
        # Give queued requests one request timeout to be answered, then drop what never started.
        wait(futures, timeout=max(0.0, t0 + n / rate + timeout - time.perf_counter()))
        dropped = sum(future.cancel() for future in futures)
    latencies, errors, last = [], [], t0
    for future in futures:
        if future.cancelled():
            continue
        latency, answered, error = future.result()
        if error is None:
            latencies.append(latency)
            last = max(last, answered)
        else:
            errors.append(error)
    latencies.sort()
    return {
        "requests": n,
        "ok": len(latencies),
        "errors": len(errors) + dropped,
        "first_error": errors[0] if errors else ("queued, never sent" if dropped else None),
        "p50_ms": _percentile(latencies, 0.50) * 1e3,
        "p99_ms": _percentile(latencies, 0.99) * 1e3,
        "throughput": len(latencies) / (last - t0) if last > t0 else 0.0,
        "max_send_lag_ms": max_lag * 1e3,
        "body_bytes": len(bodies[0]),
    }


# --- the model -------------------------------------------------------------------------------


def build_model(kind: str, arrays: Any, out: Path, seed: int) -> Path:
    """Train `kind` on the sample and save it as an MLflow model folder under `out`."""
    from mlflow.models import infer_signature

    path = out / f"model-{kind}"
    x, y = arrays.x_train, arrays.y_train
    example = arrays.x_test[:5]
    started = time.perf_counter()
    if kind == "logreg":
        import mlflow.sklearn

        from tracking_demo.tasks.mnist import fit_logreg

        model, _ = fit_logreg(x, y, max_iter=100, c=1.0, seed=seed)
        signature = infer_signature(example, model.predict(example))
        mlflow.sklearn.save_model(model, str(path), signature=signature, input_example=example)
    else:
        import keras
        import mlflow.keras

        from tracking_demo.tasks.models.mnist import build_cnn

        keras.utils.set_random_seed(seed)
        model = build_cnn()
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # 125 steps: ~95% on the test split
        signature = infer_signature(example, model.predict(example, verbose=0))
        path.mkdir(parents=True)  # mlflow.keras writes the input example before the folder
        mlflow.keras.save_model(model, str(path), signature=signature, input_example=example)
    print(f"trained {kind} in {time.perf_counter() - started:.1f} s -> {path}", flush=True)
    return path


def model_description(model_dir: Path) -> str:
    import yaml

    meta = yaml.safe_load((model_dir / "MLmodel").read_text())
    flavors = [name for name in meta.get("flavors", {}) if name != "python_function"]
    return ", ".join(flavors) or "python_function"


# --- the servers -----------------------------------------------------------------------------


def _tool(name: str) -> str:
    return str(BIN / name) if (BIN / name).exists() else name


@dataclass
class Endpoint:
    name: str
    style: str  # "ours" or "mlflow"
    command: list[str]
    url: str
    ready_url: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str]) -> None:
        """Its own process group: stop() ends every child too."""
        self.process = start_group(self.command, output=self.log_path, env=env)

    def wait_ready(self, deadline: float) -> None:
        assert self.process is not None
        wait_answering(
            self.process,
            self.ready_url,
            max(deadline - time.monotonic(), 0.0),
            name=self.name,
            log=self.log_path,
            error=RuntimeError,
        )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, wait, then SIGKILL whatever is left of it."""
        if self.process is not None:
            stop_process_group(self.process.pid, timeout, self.process)


def make_endpoints(model_dir: Path, logs: Path) -> list[Endpoint]:
    ours_port, mlflow_port = find_free_port(), find_free_port()
    ours = f"http://127.0.0.1:{ours_port}"
    theirs = f"http://127.0.0.1:{mlflow_port}"
    return [
        Endpoint(
            "tracking-demo serve",
            "ours",
            [_tool("tracking-demo"), "serve", str(model_dir), "--port", str(ours_port)],
            f"{ours}/score",
            f"{ours}/ready",
            logs / "tracking-demo-serve.log",
        ),
        Endpoint(
            "mlflow models serve",
            "mlflow",
            [
                _tool("mlflow"), "models", "serve", "-m", str(model_dir), "--env-manager",
                "local", "-p", str(mlflow_port), "--host", "127.0.0.1",
            ],
            f"{theirs}/invocations",
            f"{theirs}/ping",
            logs / "mlflow-models-serve.log",
        ),
    ]  # fmt: skip


def labels_from(endpoint: Endpoint, images: np.ndarray, key: str) -> list[int]:
    """One batch request; MLflow's answer for a Keras model is probabilities, argmax'ed."""
    field = "data" if endpoint.style == "ours" else "inputs"
    headers = {"Content-Type": "application/json"}
    if endpoint.style == "ours":
        headers["Authorization"] = f"Bearer {key}"
    response = requests.post(
        endpoint.url, data=json.dumps({field: images.tolist()}), headers=headers, timeout=60
    )
    if response.status_code != 200:
        raise RuntimeError(f"{endpoint.name}: HTTP {response.status_code}: {response.text[:300]}")
    answer = response.json()
    predictions = answer if endpoint.style == "ours" else answer["predictions"]
    if predictions and isinstance(predictions[0], dict):  # a named output column
        predictions = [next(iter(p.values())) for p in predictions]
    return [int(np.argmax(p)) if isinstance(p, list) else int(p) for p in predictions]


def run_driver(endpoint: Endpoint, spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    spec = {**spec, "url": endpoint.url, "style": endpoint.style}
    done = subprocess.run(
        [sys.executable, __file__, "--drive", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=float(spec["duration"]) + 4 * float(spec["timeout"]) + 120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"driver for {endpoint.name} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if "error" in result:
        raise RuntimeError(f"{endpoint.name}: {result['error']}")
    return result


# --- the report ------------------------------------------------------------------------------


def _cell(result: dict[str, Any]) -> str:
    return (
        f"{result['p50_ms']:8.1f} {result['p99_ms']:8.1f} {result['throughput']:7.1f} "
        f"{result['errors']:6d}"
    )


def table(results: dict[tuple[int, float], dict[str, dict[str, Any]]], names: list[str]) -> str:
    cell_header = f"{'p50 ms':>8} {'p99 ms':>8} {'req/s':>7} {'errors':>6}"
    width = len(cell_header)
    top = f"{'':>4} {'rate':>6}   {names[0]:^{width}}   {names[1]:^{width}}   {'p99 ratio':>10}"
    header = f"{'rows':>4} {'req/s':>6}   {cell_header}   {cell_header}   {'mlflow/ours':>10}"
    lines = [top, header, "-" * len(header)]
    for (rows, rate), by_name in results.items():
        ours, theirs = by_name[names[0]], by_name[names[1]]
        ratio = theirs["p99_ms"] / ours["p99_ms"] if ours["p99_ms"] > 0 else float("nan")
        lines.append(f"{rows:4d} {rate:6g}   {_cell(ours)}   {_cell(theirs)}   {ratio:9.2f}x")
    return "\n".join(lines)


def goal_line(results: dict[tuple[int, float], dict[str, dict[str, Any]]], ours: str) -> str:
    figures = results.get((GOAL_ROWS, GOAL_RATE), {}).get(ours)
    if figures is None:
        return f"goal: {GOAL}: not measured (needs --rows {GOAL_ROWS} and --rates {GOAL_RATE:g})"
    met = figures["p99_ms"] < GOAL_P99_MS and figures["errors"] == 0
    return (
        f"goal: {GOAL}: {'MET' if met else 'NOT MET'} by {ours} "
        f"(p99 {figures['p99_ms']:.1f} ms, {figures['errors']} errors)"
    )


# --- main ------------------------------------------------------------------------------------


def _numbers(text: str, kind: type) -> list[Any]:
    return [kind(part) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="10,50,100", help="request rates, requests/s")
    parser.add_argument("--rows", default="1,100", help="images per request")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per rate")
    parser.add_argument("--threads", type=int, default=8, help="sending threads per driver")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--model-kind", choices=("cnn", "logreg"), default="cnn")
    parser.add_argument("--model-dir", type=Path, help="serve this MLflow model folder instead")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start-timeout", type=float, default=300.0, help="seconds to be ready")
    parser.add_argument("--drive", help=argparse.SUPPRESS)  # internal: one driver process
    args = parser.parse_args()
    if args.drive:
        print(json.dumps(drive(json.loads(args.drive))))
        return
    rates, row_counts = _numbers(args.rates, float), _numbers(args.rows, int)
    # SIGTERM ends the run through `finally`, so no server outlives the benchmark.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in background
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import mlflow
    import uvicorn

    from tracking_demo.data.mnist import write_sample
    from tracking_demo.tasks.mnist import load_arrays

    key = secrets.token_urlsafe(16)
    env = {**os.environ, "TRACKING_DEMO_SERVING_KEY": key, KEY_VARIABLE: key}
    # `mlflow models serve` runs `uvicorn` from PATH: let it be this venv's.
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    results: dict[tuple[int, float], dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="serving-latency-") as tmp:
        root = Path(tmp)
        write_sample(root / "mnist", seed=args.seed)
        arrays = load_arrays(root / "mnist")
        images_path = root / "images.npy"
        np.save(images_path, arrays.x_test.astype(np.float32))
        if args.model_dir:
            model_dir = args.model_dir.resolve()
        else:
            model_dir = build_model(args.model_kind, arrays, root, args.seed)
        kind = model_description(model_dir)
        print(
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; model: {kind} "
            f"({'given' if args.model_dir else args.model_kind}); mlflow {mlflow.__version__}, "
            f"uvicorn {uvicorn.__version__}; {args.duration:g} s per rate, "
            f"{args.threads} sending threads",
            flush=True,
        )
        endpoints = make_endpoints(model_dir, root)
        names = [endpoint.name for endpoint in endpoints]
        try:
            for endpoint in endpoints:
                endpoint.start(env)
            deadline = time.monotonic() + args.start_timeout
            for endpoint in endpoints:
                endpoint.wait_ready(deadline)
            check = arrays.x_test[:CHECK_IMAGES]
            labels = {e.name: labels_from(e, check, key) for e in endpoints}
            if labels[names[0]] != labels[names[1]]:
                raise RuntimeError(f"the endpoints disagree on {CHECK_IMAGES} images: {labels}")
            right = sum(int(a == b) for a, b in zip(labels[names[0]], arrays.y_test, strict=False))
            print(
                f"check: both give the same labels for {CHECK_IMAGES} test images "
                f"({right}/{CHECK_IMAGES} correct)",
                flush=True,
            )
            spec = {
                "images": str(images_path),
                "duration": args.duration,
                "threads": args.threads,
                "timeout": args.timeout,
            }
            cell = 0
            for rows in row_counts:
                for rate in rates:
                    results[(rows, rate)] = {}
                    order = endpoints if cell % 2 == 0 else endpoints[::-1]
                    cell += 1
                    for endpoint in order:
                        result = run_driver(endpoint, {**spec, "rows": rows, "rate": rate}, env)
                        results[(rows, rate)][endpoint.name] = result
                        print(
                            f"  {rows:3d} rows @ {rate:5g}/s  {endpoint.name:20} "
                            f"p50 {result['p50_ms']:7.1f} ms  p99 {result['p99_ms']:7.1f} ms  "
                            f"{result['throughput']:6.1f} req/s  errors {result['errors']}  "
                            f"(body {result['body_bytes'] / 1024:.0f} KiB, send lag max "
                            f"{result['max_send_lag_ms']:.1f} ms)"
                            + (f"  first: {result['first_error']}" if result["errors"] else ""),
                            flush=True,
                        )
        finally:
            for endpoint in endpoints:
                try:
                    endpoint.stop()
                except Exception as error:  # keep stopping the other one
                    print(f"could not stop {endpoint.name}: {error}", file=sys.stderr)
    print(f"\n{os.cpu_count()} CPUs; model: {kind}; load at end {os.getloadavg()[0]:.2f}\n")
    print(table(results, names))
    print(goal_line(results, names[0]))


if __name__ == "__main__":
    main()
