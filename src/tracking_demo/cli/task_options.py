"""Click options that fill the fields of a task's options dataclass, with the field's default.

A task's defaults are written once, in its dataclass (`tasks/options.py`, `sweep/options.py`):
`field_option` declares an option for one field and reads the default from there, and
`options_object` hands the command the dataclass built from those options.
`tests/cli/test_option_defaults.py` walks the commands and checks both stay so.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any, TypeVar

import click

from tracking_demo.tasks.options import SplitOptions

R = TypeVar("R")
T = TypeVar("T")
FC = TypeVar("FC", bound=Callable[..., Any])


class FieldOption(click.Option):
    """An option whose value fills `owner.field`."""

    def __init__(self, *args: Any, owner: type, field: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.field = field


def field_default(owner: type, field: str) -> Any:
    """The field's default, or `dataclasses.MISSING` when the field has none."""
    for candidate in dataclasses.fields(owner):
        if candidate.name == field:
            if candidate.default_factory is not dataclasses.MISSING:
                return candidate.default_factory()
            return candidate.default
    raise TypeError(f"{owner.__name__} has no field '{field}'")


def field_option(owner: type, field: str, *param_decls: str, **attrs: Any) -> Callable[[FC], FC]:
    """`click.option(*param_decls, **attrs)` for `owner.field`, defaulting to the field's default.

    Only a field without a default may take one here (e.g. a data folder the command assumes).
    """
    default = field_default(owner, field)
    if default is not dataclasses.MISSING:
        if "default" in attrs:
            raise TypeError(f"{param_decls}: the default is {owner.__name__}.{field}'s")
        if default is not None:  # None: no default, as click has it
            attrs["default"] = default
    return click.option(*param_decls, cls=FieldOption, owner=owner, field=field, **attrs)


def build_options(owner: type[T], values: MutableMapping[str, Any], **given: Any) -> T:
    """`owner` from the parsed options that fill its fields (taken out of `values`), and `given`
    for the fields no option fills (nested options, values derived from several options)."""
    command = click.get_current_context().command
    for param in command.params:
        if isinstance(param, FieldOption) and param.owner is owner and param.name in values:
            given[param.field] = values.pop(param.name)
    return owner(**given)


def options_object(owner: type, **nested: type) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """The command receives one `options: owner` built from its field options; each field named
    in `nested` is itself built from the options of the class given for it."""

    def decorate(func: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(func)
        def with_options(*args: Any, **kwargs: Any) -> R:
            parts: dict[str, Any] = {f: build_options(cls, kwargs) for f, cls in nested.items()}
            kwargs["options"] = build_options(owner, kwargs, **parts)
            return func(*args, **kwargs)

        return with_options

    return decorate


def split_options(func: FC) -> FC:
    """`--data`, `--test-fraction`, `--seed`: the housing split (`SplitOptions`), which the
    housing commands and the sweep share."""
    options = [
        field_option(
            SplitOptions,
            "seed",
            "--seed",
            type=int,
            show_default=True,
            help="Seed of the split and the model.",
        ),
        field_option(
            SplitOptions,
            "test_fraction",
            "--test-fraction",
            type=click.FloatRange(0, 0.9, min_open=True, max_open=True),
            show_default=True,
            help="Share of rows held out as the test set.",
        ),
        field_option(
            SplitOptions,
            "data",
            "--data",
            type=click.Path(path_type=Path),
            default=Path("data/housing"),
            show_default=True,
            help="housing.csv, or the folder holding it.",
        ),
    ]
    for option in options:
        func = option(func)
    return func


def register_as_option(
    owner: type, text: str = "Register the model under this name."
) -> Callable[[FC], FC]:
    """`--register-as NAME`: the model's name in the registry, if it is to be registered."""
    return field_option(owner, "register_as", "--register-as", help=text)
