"""A stand-in for `tracking-demo sweep worker` that speaks its protocol in milliseconds.

`fake_sweep_worker.py broken`: writes a start-up error to stderr (its log) and exits 3 before
saying ready, as a worker whose TensorFlow import fails does.
`fake_sweep_worker.py serve`: says `{"ready": pid}`, then for each trial line runs the "command"
its first argument names: `exit N` reports code N, `die` writes LAST_WORDS to the trial's log
and kills this process with SIGKILL (the out-of-memory killer) before reporting, `retire N`
reports code N and that this worker ends (it grew too much), then ends, `hang` creates the
trial's log and waits on a child process (in the worker's group) that never ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

STARTUP_ERROR = "ImportError: libtensorflow_framework.so.2: cannot open shared object file"
LAST_WORDS = "F tensorflow/core/framework/tensor.cc:855] Check failed: allocation of 4 GB"


def serve() -> int:
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        trial = json.loads(line)
        command, *rest = trial["arguments"]
        if command == "die":  # a native crash's last words go to the trial's log
            Path(trial["log"]).write_text(f"{LAST_WORDS}\n")
            os.kill(os.getpid(), signal.SIGKILL)
        if command == "hang":
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
            Path(trial["log"]).write_text(f"child {child.pid}\n")
            child.wait()
        retiring = command == "retire"
        report = {"index": trial["index"], "code": int(rest[0]), "retiring": retiring}
        print(json.dumps(report), flush=True)
        if retiring:
            return 0
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "broken":
        print(STARTUP_ERROR, file=sys.stderr)
        raise SystemExit(3)
    raise SystemExit(serve())
