"""The housing MLP as one MLflow model: the fitted cleaning plus the Keras network.

A pyfunc model, so the served model takes the raw columns (`ocean_proximity` as text) and
answers dollars; the Keras flavor alone would need callers to clean and one-hot the rows first.
Loading needs `tracking_demo` importable (it is in the image, the venv and the Azure snapshot).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from tracking_demo.tasks import model_requirements

NETWORK_ARTIFACT = "network"
NETWORK_FILE = "network.keras"


def build_network(
    n_features: int,
    first_layer_units: int,
    second_layer_units: int,
    learning_rate: float,
    target_mean: float,
    target_std: float,
) -> Any:
    """Two ReLU layers and a linear unit, rescaled to dollars by a fixed last layer.

    The rescaling lets tiny networks (2 units) start near the mean price, so a few epochs
    suffice; Adam's step size does not depend on the loss's scale, so the loss stays in dollars
    and `mae` / `val_mae` read as dollars, as the tutorial reports them.
    """
    import keras

    inputs = keras.Input(shape=(n_features,), name="features")
    hidden = keras.layers.Dense(first_layer_units, activation="relu", name="first")(inputs)
    hidden = keras.layers.Dense(second_layer_units, activation="relu", name="second")(hidden)
    standard = keras.layers.Dense(1, name="standardised_value")(hidden)
    value = keras.layers.Rescaling(scale=target_std, offset=target_mean, name="value")(standard)
    model = keras.Model(inputs, value, name="housing_mlp")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse", metrics=["mae"]
    )
    return model


class HousingMlpModel(PythonModel):
    """Raw housing rows → cleaned features → network → predicted `median_house_value`."""

    def __init__(self, features: Any) -> None:
        self.features = features
        self._network: Any = None

    def load_context(self, context: Any) -> None:
        import keras

        self._network = keras.saving.load_model(context.artifacts[NETWORK_ARTIFACT])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        rows = self.features.transform(model_input)
        return np.asarray(self._network.predict_on_batch(rows), dtype=np.float64).reshape(-1)


def save(
    path: Path, features: Any, network: Any, signature: Any, input_example: pd.DataFrame
) -> None:
    """Write the MLflow model at `path` (the network as a native `.keras` file inside it)."""
    staging = path.parent / f"{path.name}-network"
    staging.mkdir(parents=True, exist_ok=True)
    network_file = staging / NETWORK_FILE
    network.save(network_file)
    mlflow.pyfunc.save_model(
        str(path),
        python_model=HousingMlpModel(features),
        artifacts={NETWORK_ARTIFACT: str(network_file)},
        signature=signature,
        input_example=input_example,
        pip_requirements=model_requirements.keras_model(pyfunc=True),
    )
