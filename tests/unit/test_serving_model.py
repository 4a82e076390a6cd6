"""score.init()/run() on models of each kind the tasks log: labels and probabilities from
classifiers, values from regressors (Keras and scikit-learn), loaded by their own flavor."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression

from tracking_demo.errors import ConfigError
from tracking_demo.serving import score
from tracking_demo.serving.payload import RequestError


@pytest.fixture
def linear_dir(tmp_path: Path) -> Path:
    frame = pd.DataFrame({"rooms": [1.0, 2.0, 3.0, 4.0], "income": [2.0, 1.0, 4.0, 3.0]})
    target = 3.0 * frame["rooms"] - frame["income"]
    model = LinearRegression().fit(frame, target)
    path = tmp_path / "linear"
    mlflow.sklearn.save_model(model, str(path), signature=infer_signature(frame, target))
    return path


def test_sklearn_regressor_answers_values_and_refuses_probabilities(linear_dir: Path) -> None:
    score.init(str(linear_dir))
    assert score.loaded().describe()["task"] == "regression"
    assert score.run(json.dumps({"data": [[5.0, 1.0], [1.0, 0.0]]})) == pytest.approx([14.0, 3.0])
    assert score.run(json.dumps({"data": {"income": 0.0, "rooms": 1.0}})) == pytest.approx([3.0])
    with pytest.raises(RequestError, match="probabilities were asked of a regression model"):
        score.run(json.dumps({"data": [[5.0, 1.0]], "probabilities": True}))


@pytest.mark.slow
def test_keras_classifier_and_regressor(tmp_path: Path) -> None:
    import keras

    x = np.random.default_rng(0).random((32, 4)).astype(np.float32)
    inputs = keras.Input((4,))
    classifier = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    regressor = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    for name, model in (("classifier", classifier), ("regressor", regressor)):
        path = tmp_path / name
        mlflow.keras.save_model(model, str(path), signature=infer_signature(x, model.predict(x)))

    score.init(str(tmp_path / "classifier"))
    probabilities = classifier.predict(x[:2], verbose=0)
    answer = score.run(json.dumps({"inputs": x[:2].tolist(), "probabilities": True}))
    assert answer["predictions"] == probabilities.argmax(axis=1).tolist()
    assert answer["classes"] == [0, 1, 2]
    np.testing.assert_allclose(answer["probabilities"], probabilities, atol=1e-5)

    score.init(str(tmp_path / "regressor"))
    assert score.loaded().describe()["task"] == "regression"
    values = score.run(json.dumps({"data": x[:3].tolist()}))
    np.testing.assert_allclose(values, regressor.predict(x[:3], verbose=0).ravel(), rtol=1e-5)


def test_a_model_without_signature_is_refused(tmp_path: Path) -> None:
    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    mlflow.sklearn.save_model(model, str(tmp_path / "bare"))
    with pytest.raises(ConfigError, match="has no input signature"):
        score.init(str(tmp_path / "bare"))
