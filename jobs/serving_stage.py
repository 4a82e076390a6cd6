"""What Azure ML gives a scoring container, laid out here: the model and the uploaded source.

A managed online deployment (and an ACI service) mounts the registered model under
`AZUREML_MODEL_DIR` (`azureml-models/NAME/VERSION/`) and runs the entry script from the uploaded
source folder (`/var/azureml-app/<UPLOAD_NAME>`). The deploys, `jobs.deploy local` and the tests
stage both the same way, so what runs here is what the container sees.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from jobs import snapshot
from tracking_demo.errors import ConfigError

ENTRY_SCRIPT = "jobs/score_entry.py"
# The uploaded source folder's name: Azure ML puts it at /var/azureml-app/<name>.
UPLOAD_NAME = "tracking-demo"


def stage_source(taken: snapshot.Snapshot, scratch: Path) -> Path:
    """The folder Azure ML uploads: the snapshot jobs upload, plus the entry script (`.amlignore`
    leaves jobs/ out of job snapshots, and the deploy takes the script from this package)."""
    source = snapshot.copy_to(taken, scratch / UPLOAD_NAME)
    entry = source / ENTRY_SCRIPT
    entry.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(Path(__file__).with_name(Path(ENTRY_SCRIPT).name), entry)
    return source


def model_dir(scratch: Path, name: str, version: str) -> Path:
    """`AZUREML_MODEL_DIR` as Azure ML sets it: the registered files sit under it, in `model/`."""
    return scratch / "azureml-models" / name / version


def stage_model(name: str, version: str, scratch: Path) -> Path:
    """Download NAME:VERSION from the current registry as Azure mounts it; returns the folder."""
    from tracking_demo import registry

    folder = model_dir(scratch, name, version)
    registry.download(f"{name}:{version}", folder / "model")
    return folder


def example_payload(model_path: Path) -> dict[str, Any]:
    """One example from the model's own `input_example`, as the tutorials' `{"data": [...]}`."""
    import numpy as np
    import pandas as pd
    from mlflow.models import Model

    # MLflow annotates fewer return types than it gives (a list, say): checked here at run time.
    example: Any = Model.load(str(model_path)).load_input_example(str(model_path))
    if isinstance(example, pd.DataFrame):
        return {"data": json.loads(example.head(1).to_json(orient="records"))}
    if isinstance(example, np.ndarray):
        return {"data": example[:1].tolist()}
    if isinstance(example, list) and example:
        return {"data": example[:1]}
    raise ConfigError(
        f"the model at {model_path} has no input example to check the endpoint with "
        f"(found {type(example).__name__})"
    )
