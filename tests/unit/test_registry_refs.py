import pytest

from tracking_demo.errors import ConfigError
from tracking_demo.registry import model_uri_from_ref


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
