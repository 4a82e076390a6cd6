"""The task catalog and the tag names: what `promote`, `compare` and the UI rely on to tell runs
and model versions apart."""

from tracking_demo.cli.main import cli
from tracking_demo.evaluation import LOADERS
from tracking_demo.tasks import catalog
from tracking_demo.tracking import tags


def test_every_train_command_is_a_task_of_that_name() -> None:
    # A run's task tag is the command that made it: `tracking-demo train <task tag>` reruns it.
    train = cli.commands["train"]
    assert set(train.commands) <= set(catalog.TASKS)  # type: ignore[attr-defined]


def test_every_model_a_task_trains_can_be_judged_on_held_out_data() -> None:
    kinds = {task.data_kind for task in catalog.TASKS.values() if task.data_kind}
    assert kinds == set(LOADERS)


def test_a_versions_task_tag_finds_its_data_kind() -> None:
    assert catalog.data_kind_of("housing-mlp") == "housing"
    assert catalog.data_kind_of("mnist-cnn") == "mnist"
    assert catalog.data_kind_of("compare") is None
    assert catalog.data_kind_of(None) is None


def test_tag_names_are_distinct() -> None:
    names = [value for key, value in vars(tags).items() if key.isupper() and key != "PREFIX"]
    assert len(names) == len(set(names))
