"""Ctrl-C reaches the commands a test starts, however the test run itself was started.

A shell without job control starts a background command (`nohup bash scripts/test.sh &`, some
CI runners) with SIGINT ignored, and a child inherits that: a test sending SIGINT to a command
then sees it carry on. Tests that interrupt a command start it with SIGINT's default action, as
a terminal's foreground command has it.
"""

from __future__ import annotations

import signal


def with_default_sigint() -> None:
    """`preexec_fn` for `subprocess.Popen`: SIGINT as a terminal's command gets it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
