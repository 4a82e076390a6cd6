"""Saved models name their requirements, pinned to the lock's versions (no inference)."""

from __future__ import annotations

import pytest
from tests.support.lock import assert_pins_the_lock

from tracking_demo.tasks import model_requirements


def test_sklearn_models_pin_the_lock() -> None:
    requirements = model_requirements.sklearn_model()
    assert_pins_the_lock("\n".join(requirements))
    assert {line.split("==")[0] for line in requirements} >= {"mlflow", "scikit-learn", "skops"}


@pytest.mark.parametrize("pyfunc", [False, True])
def test_keras_models_pin_the_lock_and_their_backend(pyfunc: bool) -> None:
    requirements = model_requirements.keras_model(pyfunc=pyfunc)
    assert_pins_the_lock("\n".join(requirements))
    names = {line.split("==")[0] for line in requirements}
    import keras

    backend = model_requirements.KERAS_BACKEND_PACKAGES[keras.backend.backend()]
    assert {"mlflow", "keras", backend} <= names
    assert ("scikit-learn" in names) == pyfunc


def test_a_missing_distribution_stays_unpinned() -> None:
    assert model_requirements.pinned(["mlflow", "no-such-package-xyz"])[1] == "no-such-package-xyz"
