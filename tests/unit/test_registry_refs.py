import pytest
from mlflow.tracking import MlflowClient

from tracking_demo import registry
from tracking_demo.errors import ConfigError
from tracking_demo.registry import model_uri_from_ref, pinned_uri


@pytest.mark.parametrize(
    ("ref", "uri"),
    [
        ("moons-rf:3", "models:/moons-rf/3"),
        ("moons-rf@champion", "models:/moons-rf@champion"),
        ("models:/x/1", "models:/x/1"),
        ("runs:/abc/model", "runs:/abc/model"),
    ],
)
def test_references_become_model_uris(ref: str, uri: str) -> None:
    assert model_uri_from_ref(ref) == uri


@pytest.mark.parametrize("ref", ["moons-rf", "moons-rf:latest", "a:1:2", ""])
def test_bad_references_are_rejected(ref: str) -> None:
    with pytest.raises(ConfigError, match="is not NAME:VERSION, NAME@ALIAS"):
        model_uri_from_ref(ref)


AZURE_REGISTRY = (
    "azureml://westeurope.api.azureml.ms/mlflow/v1.0/subscriptions/0/resourceGroups/rg/"
    "providers/Microsoft.MachineLearningServices/workspaces/ws"
)


def test_an_azure_ml_registry_uses_the_champion_tag_without_asking_for_aliases() -> None:
    """Aliases are not in what Azure ML documents: no alias call is made to find out."""
    azure = MlflowClient(tracking_uri="http://127.0.0.1:9", registry_uri=AZURE_REGISTRY)
    local = MlflowClient(tracking_uri="http://127.0.0.1:9", registry_uri="http://127.0.0.1:9")
    assert registry.known_mechanism(azure) == "tag"
    assert registry.known_mechanism(local) is None  # found on its first alias call
    assert registry.describe_mechanism("tag", "champion") == (
        "tag champion=true; this registry has no aliases"
    )


def test_uris_without_an_alias_are_not_looked_up() -> None:
    unreachable = MlflowClient(tracking_uri="http://127.0.0.1:9", registry_uri="http://127.0.0.1:9")
    for uri in ("models:/m/3", "runs:/abc/model", "model-folder"):
        assert pinned_uri(unreachable, uri) == uri
