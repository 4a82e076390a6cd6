"""Runs started together log the same dataset: every run gets it, none is refused.

MLflow's SQL store checks whether a dataset exists, then inserts it, without a lock, so two runs
of one experiment logging the same new dataset at the same moment can have the second insert
refused ("UNIQUE constraint failed"). Sweep trials in warm workers start together and log the
same housing split, which made a trial fail this way. Delivery retries the refused insert once
(`delivery.lost_insert_race`), which then links the dataset that now exists.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest
from mlflow.data.pandas_dataset import from_pandas
from mlflow.tracking import MlflowClient

from tracking_demo.tracking.delivery import Delivery, Operation, dataset_record
from tracking_demo.tracking.records import DatasetRecord

pytestmark = pytest.mark.integration
RUNS_AT_ONCE = 8
ROUNDS = 5


def _log_at_once(client: MlflowClient, runs: list[str], record: DatasetRecord, tmp: Path) -> list:  # type: ignore[type-arg]
    """Each run delivers `record` from its own thread, all released together; what went wrong."""
    barrier = threading.Barrier(len(runs))
    problems: list[object] = []

    def log(run_id: str) -> None:
        delivery = Delivery(client, run_id, tmp)
        barrier.wait()
        try:
            problems.extend(delivery.deliver(Operation([(1, record)])))  # refusals
        except BaseException as error:  # collected: a thread's error must fail the test
            problems.append(error)

    threads = [threading.Thread(target=log, args=(run_id,)) for run_id in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return problems


def test_runs_logging_one_new_dataset_at_once_all_get_it(mlflow_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = MlflowClient(tracking_uri=mlflow_server.uri)
    experiment = client.create_experiment("concurrent-datasets")
    for round_ in range(ROUNDS):
        frame = pd.DataFrame({"x": [round_, 1.0, 2.0], "y": [0.0, 1.0, 0.0]})
        dataset = from_pandas(frame, name=f"split-{round_}")._to_mlflow_entity()
        record = dataset_record(dataset, {"context": "train"})
        runs = [client.create_run(experiment).info.run_id for _ in range(RUNS_AT_ONCE)]
        assert _log_at_once(client, runs, record, tmp_path) == []
        for run_id in runs:
            inputs = client.get_run(run_id).inputs.dataset_inputs
            assert [i.dataset.name for i in inputs] == [f"split-{round_}"]
