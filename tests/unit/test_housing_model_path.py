"""Housing MLP versions saved before the model moved to `tasks/models/` still load."""

import pickle

from tracking_demo.tasks.models.housing import HousingMlpModel


def test_the_pickled_class_path_of_earlier_versions_still_resolves() -> None:
    # What cloudpickle wrote for the pyfunc class before the move: a reference by module path.
    old_reference = b"ctracking_demo.tasks.housing_model\nHousingMlpModel\n."
    assert pickle.loads(old_reference) is HousingMlpModel
