"""The pip requirements each saved model declares: named per model kind, pinned to what saved it.

Left to itself, MLflow infers a model's requirements by loading the saved model again in a
subprocess and recording what it imports: about 9 s of the quickstart's 12 s model save, and it
picks up whatever else that process imported (pytest, rich). The project's environment is
installed from `poetry.lock` (`scripts/setup.sh`, the image), so the installed versions are the
lock's: naming the packages a model needs to load and pinning them to those versions is faster,
and a model loads with the versions it was trained with.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata

# What loading and scoring each kind imports (transitive dependencies come with these).
SKLEARN_MODEL = ("mlflow", "scikit-learn", "skops", "scipy", "numpy", "pandas")
KERAS_MODEL = ("mlflow", "keras", "numpy", "pandas")
# A pyfunc wrapping a fitted scikit-learn transformer and a Keras network (housing MLP).
KERAS_PYFUNC_MODEL = ("mlflow", "keras", "scikit-learn", "cloudpickle", "numpy", "pandas")
KERAS_BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def pinned(names: Iterable[str]) -> list[str]:
    """`name==version` of each installed distribution; a missing one stays unpinned."""
    lines = []
    for name in names:
        try:
            lines.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(name)
    return lines


def sklearn_model() -> list[str]:
    return pinned(SKLEARN_MODEL)


def keras_model(pyfunc: bool = False) -> list[str]:
    """Keras models need the backend they run on (TensorFlow here, JAX on the GPU machine)."""
    import keras

    backend = keras.backend.backend()
    names = KERAS_PYFUNC_MODEL if pyfunc else KERAS_MODEL
    return pinned([*names, KERAS_BACKEND_PACKAGES.get(backend, backend)])
