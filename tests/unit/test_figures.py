"""Every figure a task logs, rendered: its text reads as written (a `$` in a title is a dollar
sign, not math markup), training-curve epochs are whole numbers, axes say their units, and a
trial the sweep's policy stopped shows where."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib import cbook
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.mathtext import MathTextParser
from matplotlib.text import Text
from sklearn.ensemble import RandomForestClassifier

from tracking_demo.data import moons as moons_data
from tracking_demo.sweep.runner import TrialOutcome, trials_figure
from tracking_demo.sweep.space import PrimaryMetric
from tracking_demo.tasks import housing, mnist
from tracking_demo.tasks.figures import confusion_matrix_figure, training_curves_figure
from tracking_demo.tasks.moons import decision_boundary_figure

HISTORY = {  # three epochs: where matplotlib's own ticks would fall at epoch 1.5
    "loss": [3.1e9, 2.6e9, 2.4e9],
    "val_loss": [3.3e9, 2.8e9, 2.5e9],
    "mae": [48_000.0, 43_000, 41_000],
    "val_mae": [50_000.0, 45_000, 42_500],
    "accuracy": [0.80, 0.90, 0.93],
    "val_accuracy": [0.85, 0.91, 0.93],
}
DOLLAR_TITLE = housing.evaluation_title("Keras MLP", {"test_mae": 39_340.4, "test_rmse": 51_392.7})


@pytest.fixture
def mathtext_parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The strings matplotlib hands its math-markup parser while drawing."""
    parsed: list[str] = []
    original = MathTextParser.parse

    def counting(self: MathTextParser, s: str, *args: object, **kwargs: object) -> object:
        parsed.append(s)
        return original(self, s, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(MathTextParser, "parse", counting)
    yield parsed


def _drawn(figure: Figure) -> Figure:
    FigureCanvasAgg(figure).draw()
    return figure


def _texts(figure: Figure) -> list[Text]:
    return [t for t in figure.findobj(Text) if isinstance(t, Text) and t.get_text()]


def _read_as_math(text: Text) -> bool:
    """What matplotlib's renderer decides for this text: LaTeX, or math markup between `$`s."""
    return text.get_usetex() or (text.get_parse_math() and cbook.is_math_text(text.get_text()))


def _moons_figure(tmp_path: Path) -> Figure:
    moons_data.write(moons_data.MoonsSpec(n_train=60, n_test=20), tmp_path)
    data = moons_data.load(tmp_path)
    features = list(moons_data.FEATURES)
    model = RandomForestClassifier(n_estimators=5, random_state=0)
    model.fit(data.train[features], data.train[moons_data.LABEL])
    return decision_boundary_figure(model, data.train, data.test, resolution=20)


def _every_figure(tmp_path: Path) -> dict[str, Figure]:
    """Each figure the tasks log, with a title as the task writes it where the task does."""
    digits = np.array([0, 1, 2, 2, 1, 0, 2])
    trials = [
        TrialOutcome(0, "a", {}, "completed", curve=HISTORY["val_mae"]),
        TrialOutcome(1, "b", {}, "terminated", terminated_at=2, curve=[90_000.0, 89_000.0]),
    ]
    return {
        "housing predicted_vs_actual": housing.predicted_vs_actual_figure(
            np.array([100_000.0, 250_000, 400_000]),
            np.array([120_000.0, 240_000, 380_000]),
            DOLLAR_TITLE,
        ),
        "housing training_curves": housing.mlp_curves_figure(HISTORY, stopped_at=3),
        "mnist training_curves": training_curves_figure(HISTORY, mnist.CNN_CURVES, best_epoch=2),
        "mnist confusion_matrix": confusion_matrix_figure(digits, digits, "CNN, cost $0 $1"),
        "moons decision_boundary": _moons_figure(tmp_path),
        "sweep trials": trials_figure(trials, PrimaryMetric("val_mae", "minimize")),
    }


def test_every_figure_shows_its_text_as_written(tmp_path: Path, mathtext_parses: list[str]) -> None:
    for name, figure in _every_figure(tmp_path).items():
        _drawn(figure)
        as_math = [t.get_text() for t in _texts(figure) if _read_as_math(t)]
        assert not as_math, f"{name}: read as math markup: {as_math}"
    assert not mathtext_parses, f"matplotlib parsed math markup in: {mathtext_parses}"


def test_the_housing_title_keeps_its_dollar_amounts_even_under_a_usetex_matplotlibrc(
    mathtext_parses: list[str],
) -> None:
    assert DOLLAR_TITLE == "Keras MLP: test MAE $39,340, RMSE $51,393"
    with matplotlib.rc_context({"text.usetex": True, "text.parse_math": True}):
        figure = housing.predicted_vs_actual_figure(
            np.array([1.0, 2.0]), np.array([1.0, 2.0]), DOLLAR_TITLE
        )
    title = figure.axes[0].title
    assert title.get_text() == DOLLAR_TITLE
    assert not _read_as_math(title)


def _curve_axes(figure: Figure) -> list[Axes]:
    return [axes for axes in figure.axes if axes.get_xlabel() == "epoch"]


def _assert_whole_epoch_ticks(name: str, figure: Figure) -> None:
    _drawn(figure)
    assert _curve_axes(figure), f"{name}: no axis labelled 'epoch'"
    for axes in _curve_axes(figure):
        low, high = axes.get_xlim()
        ticks = [t for t in axes.get_xticks() if low <= t <= high]
        assert ticks and all(float(t).is_integer() for t in ticks), f"{name}: ticks {ticks}"


@pytest.mark.parametrize(
    "name", ["housing training_curves", "mnist training_curves", "sweep trials"]
)
def test_epoch_axes_tick_whole_epochs_only(tmp_path: Path, name: str) -> None:
    _assert_whole_epoch_ticks(name, _every_figure(tmp_path)[name])


def test_a_trial_stopped_after_one_epoch_still_ticks_whole_epochs() -> None:
    one_epoch = {name: values[:1] for name, values in HISTORY.items()}
    _assert_whole_epoch_ticks("one epoch", housing.mlp_curves_figure(one_epoch, stopped_at=1))
    trials = [TrialOutcome(0, "a", {}, "terminated", terminated_at=1, curve=[90_000.0])]
    _assert_whole_epoch_ticks("one trial", trials_figure(trials, PrimaryMetric()))


def test_axes_name_their_units(tmp_path: Path) -> None:
    figures = _every_figure(tmp_path)
    labels = {
        name: [(axes.get_xlabel(), axes.get_ylabel()) for axes in figure.axes]
        for name, figure in figures.items()
    }
    assert labels["housing training_curves"] == [
        ("epoch", "loss: MSE ((k$)²)"),
        ("epoch", "MAE (k$)"),
    ]
    assert labels["housing predicted_vs_actual"] == [
        ("actual median_house_value ($)", "predicted median_house_value ($)")
    ]
    assert labels["mnist training_curves"] == [
        ("epoch", "loss: cross-entropy (nats)"),
        ("epoch", "accuracy (share correct)"),
    ]
    assert labels["mnist confusion_matrix"] == [("predicted digit", "true digit")]


def test_housing_curves_are_drawn_in_thousands_of_dollars(tmp_path: Path) -> None:
    loss_axes, mae_axes = _every_figure(tmp_path)["housing training_curves"].axes
    lines = {line.get_label(): line.get_ydata() for line in loss_axes.get_lines()}
    np.testing.assert_allclose(lines["loss"], np.array(HISTORY["loss"]) / 1e6)
    lines = {line.get_label(): line.get_ydata() for line in mae_axes.get_lines()}
    np.testing.assert_allclose(lines["val_mae"], np.array(HISTORY["val_mae"]) / 1e3)


def test_a_stopped_trial_s_curves_mark_the_epoch_the_policy_stopped_it() -> None:
    figure = housing.mlp_curves_figure(HISTORY, stopped_at=3)
    for axes in figure.axes:
        marks = [
            line for line in axes.get_lines() if line.get_label() == "stopped by policy at epoch 3"
        ]
        assert len(marks) == 1 and list(marks[0].get_xdata()) == [3, 3]
        legend = axes.get_legend()
        assert legend is not None
        assert "stopped by policy at epoch 3" in [t.get_text() for t in legend.get_texts()]
    unstopped = housing.mlp_curves_figure(HISTORY)
    assert not any("stopped" in str(line.get_label()) for line in unstopped.axes[0].get_lines())
