"""score.init()/run() on models of each kind the tasks log: labels and probabilities from
classifiers, values from regressors (Keras and scikit-learn), loaded by their own flavor; every
request format MLflow's scoring server documents answers what the model itself predicts."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression
from tests.support.served_models import ServedModels, expected_predictions, served_models

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


def test_a_prediction_that_is_not_a_number_is_a_422_naming_the_row(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [0.0, 1.0]})
    model = LinearRegression().fit(frame, [0.0, 1e300])
    path = tmp_path / "steep"
    mlflow.sklearn.save_model(model, str(path), signature=infer_signature(frame, [0.0, 1.0]))
    score.init(str(path))
    with pytest.raises(RequestError, match="prediction for row 1 is inf") as raised:
        score.run(json.dumps({"data": [[0.5], [1e10]]}))
    assert raised.value.status == 422


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> ServedModels:
    return served_models(tmp_path_factory)


def _plain(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Records as a client writes them: a missing value is null, never NaN."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def column_bodies(frame: pd.DataFrame) -> dict[str, dict[str, object]]:
    """Every documented body for rows of a columns model (moons, housing)."""
    records = _plain(frame)
    names = list(frame.columns)
    rows = [[record[name] for name in names] for record in records]
    reordered = names[::-1]
    return {
        "inputs-rows": {"inputs": rows},
        "inputs-columns": {"inputs": {name: [r[name] for r in records] for name in names}},
        "inputs-records": {"inputs": records},
        "instances-records": {"instances": records},
        "instances-rows": {"instances": rows},
        "dataframe_split": {
            "dataframe_split": {
                "index": list(range(len(rows))),
                "columns": reordered,
                "data": [[record[name] for name in reordered] for record in records],
            }
        },
        "dataframe_records": {"dataframe_records": records},
        "data-rows": {"data": rows},
        "data-records": {"data": records},
    }


def tensor_bodies(pixels: np.ndarray) -> dict[str, dict[str, object]]:
    """Every documented body for images of a tensor model (MNIST)."""
    rows = pixels.tolist()
    return {
        "inputs-rows": {"inputs": rows},
        "inputs-named-tensor": {"inputs": {"pixels": rows}},
        "instances-rows": {"instances": rows},
        "instances-named": {"instances": [{"pixels": row} for row in rows]},
        "dataframe_split": {"dataframe_split": {"index": list(range(len(rows))), "data": rows}},
        "data-rows": {"data": rows},
        "data-images": {"data": pixels.reshape(-1, 28, 28).tolist()},
    }


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["moons", "logreg", "cnn", "housing"])
def test_every_documented_format_answers_the_models_own_predictions(
    models: ServedModels, kind: str
) -> None:
    rows = models.rows[kind]
    expected = expected_predictions(models.path(kind), rows)
    bodies = column_bodies(rows) if isinstance(rows, pd.DataFrame) else tensor_bodies(rows)
    score.init(str(models.path(kind)))
    for name, body in bodies.items():
        answer = score.run(json.dumps(body, allow_nan=False))
        predictions = answer if name.startswith("data-") else answer["predictions"]
        assert predictions == pytest.approx(expected, rel=1e-6), name
    if score.loaded().is_classifier:
        flagged = score.run(json.dumps({**next(iter(bodies.values())), "probabilities": True}))
        assert flagged["predictions"] == expected
        assert np.argmax(flagged["probabilities"], axis=1).tolist() == expected
