"""Every run tag the project sets, in one place (as MLflow keeps its own in `mlflow_tags`).

Tags are how the UI, `compare`, `promote` and a sweep find out what a run was; a name written
twice can drift, a name imported cannot.
"""

from __future__ import annotations

PREFIX = "tracking_demo."

# What made the run.
TASK = PREFIX + "task"
VERSION = PREFIX + "version"
JOB = PREFIX + "job"

# How it ended.
ERROR = PREFIX + "error"
SYNCED_BY = PREFIX + "synced_by"
SYNC_SKIPPED = PREFIX + "sync.skipped"  # one line per gap `sync` found in the run's log
SYNC_GAPS = PREFIX + "sync.gaps"  # how many

# What a task found.
CONVERGED = PREFIX + "converged"
BETTER_MODEL = PREFIX + "better_model"

# Sweeps: a trial's place in its sweep and how the bandit policy treated it.
TRIAL = PREFIX + "trial"
TRIAL_STATUS = PREFIX + "trial_status"
TERMINATED_AT_EPOCH = PREFIX + "terminated_at_epoch"
TERMINATION_REASON = PREFIX + "termination_reason"
BEST_TRIAL = PREFIX + "best_trial"  # its run name; the parent's description links it
BEST_TRIAL_RUN_ID = PREFIX + "best_trial_run_id"

# On registered model versions (not runs): the task that trained the version.
VERSION_TASK = "task"
