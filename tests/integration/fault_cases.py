"""The fault matrix's table: what each fault does to a user's run, the one source of truth.

`test_fault_matrix.py` runs every case against a real local server and asserts that what it
observes equals the case's row; `scripts/fault_table.py` renders the rows as the Markdown table
in docs/tracking.md's fault matrix section, and `tests/unit/test_fault_table_doc.py` checks that
the page holds exactly that rendering.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from tracking_demo.cli.sync import EXIT_SYNCED_WITH_GAPS

START_MARKER = "<!-- fault-matrix:start -->"
END_MARKER = "<!-- fault-matrix:end -->"
KILLED = -signal.SIGKILL  # a subprocess's return code after SIGKILL
SYNC_SKIPPED_EXIT = EXIT_SYNCED_WITH_GAPS  # every intact record delivered, some were damaged


@dataclass(frozen=True)
class Observed:
    """What a case measures: exit codes, the run's final status on the server, and the metric
    points on the server against those the trainer logged (each step of each key once)."""

    exit_codes: tuple[int, ...]
    sync_exit: int | None
    status: str
    lost: int
    duplicated: int


@dataclass(frozen=True)
class FaultCase:
    name: str
    done: str
    expected: Observed
    user_sees: str

    def row(self) -> str:
        cells = (
            f"**{self.name}**",
            self.done,
            ", ".join(_exit(code) for code in self.expected.exit_codes),
            "—" if self.expected.sync_exit is None else str(self.expected.sync_exit),
            self.expected.status,
            str(self.expected.lost),
            str(self.expected.duplicated),
            self.user_sees,
        )
        return "| " + " | ".join(cells) + " |"


def _exit(code: int) -> str:
    return "killed" if code == KILLED else str(code)


CASES: dict[str, FaultCase] = {
    case.name: case
    for case in (
        FaultCase(
            "no server",
            "`train` with nothing listening at the tracking URI",
            Observed((1,), None, "no run", 0, 0),
            "`error: no MLflow tracking server answers at URI ...` within 5 s, before training",
        ),
        FaultCase(
            "black hole",
            "a listener that accepts connections and never answers",
            Observed((1,), None, "no run", 0, 0),
            "the same line within 5 s (connect 2 s + read 2.5 s)",
        ),
        FaultCase(
            "restart mid-run",
            "the server's process group is SIGKILLed at epoch 5 and started again",
            Observed((0,), None, "FINISHED", 0, 0),
            "one warning that records are kept, one when the server is back; a normal finish",
        ),
        FaultCase(
            "outage past the deadline",
            "the server is down from the first epoch until after the end-of-run deadline; "
            "then `sync --all`",
            Observed((1,), 0, "FINISHED", 0, 0),
            "`error: ... did not acknowledge N records ... tracking-demo sync PATH`; `sync` "
            "delivers the rest, the figure, the model and its registration",
        ),
        FaultCase(
            "trainer SIGKILLed",
            "the trainer is killed outright mid-run; then `sync --all`",
            Observed((KILLED,), 0, "KILLED", 0, 0),
            "`sync` delivers every fsync'd point (all but the last second's) and tags "
            "`tracking_demo.error` with the process and host",
        ),
        FaultCase(
            "damaged middle record",
            "one metric record in the middle of `wal.log` has a flipped bit (server away, "
            "trainer past its deadline); then `sync --all`",
            Observed((1,), SYNC_SKIPPED_EXIT, "FINISHED", 1, 0),
            "`sync` delivers every other record, reports the gap (sequence and bytes), tags "
            "`tracking_demo.sync.skipped` and exits 3",
        ),
        FaultCase(
            "torn tail",
            "the trainer is SIGKILLed with the server away and its last record cut in half "
            "(power loss mid-write); then `sync --all`",
            Observed((KILLED,), SYNC_SKIPPED_EXIT, "KILLED", 1, 0),
            "`sync` replays every whole record, reports the torn one on stderr and in "
            "`tracking_demo.sync.skipped`, and exits 3",
        ),
        FaultCase(
            "disk full",
            "the runs folder is a 256 KiB tmpfs that fills mid-run; then `sync --all`",
            Observed((1,), 0, "FAILED", 0, 0),
            "one `error:` line naming the folder and the space needed; nothing logged "
            "before is lost",
        ),
        FaultCase(
            "two trainers",
            "two trainers at once, one runs folder, one server",
            Observed((0, 0), None, "FINISHED, FINISHED", 0, 0),
            "two runs, each with only its own points; each log folder only its own records",
        ),
        FaultCase(
            "sweep, server restart",
            "`sweep housing-mlp` (the quick sweep file); the server is SIGKILLed and "
            "started again while trial 1 trains",
            Observed((0,), None, "FINISHED; trials 2 FINISHED, 2 KILLED", 0, 0),
            "the sweep completes; the policy still stops the two slow trials (KILLED)",
        ),
    )
}

HEADER = (
    "| case | what is done | exit | `sync` exit | final status | points lost "
    "| duplicated | what the user sees |\n"
    "|---|---|---|---|---|---|---|---|"
)


def render_table() -> str:
    """The table as docs/tracking.md holds it, between its markers."""
    return "\n".join([HEADER, *(case.row() for case in CASES.values())])


def between_markers(text: str) -> str:
    """What `text` (docs/tracking.md) holds between the markers; a missing marker: one error."""
    for marker in (START_MARKER, END_MARKER):
        if text.count(marker) != 1:
            raise ValueError(f"docs/tracking.md must hold {marker} exactly once")
    start = text.index(START_MARKER) + len(START_MARKER)
    return text[start : text.index(END_MARKER)].strip("\n")


def with_table(text: str) -> str:
    """`text` with the rendered table between the markers, the rest unchanged."""
    between_markers(text)  # both markers, once each
    start = text.index(START_MARKER) + len(START_MARKER)
    end = text.index(END_MARKER)
    return text[:start] + "\n" + render_table() + "\n" + text[end:]
