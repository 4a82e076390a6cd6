"""Metric values as computed, without the digits that are only binary representation noise.

A mean of five fold scores is 0.9560000000000001, a float32 loss read as a double is
0.8999999761581421; the MLflow UI shows every digit. The value is kept a number (never a
formatted string), rounded only where the dropped digits carry no information.
"""

from __future__ import annotations

import math

import numpy as np

# A double holds 15-17 significant decimal digits; the 16th and 17th are where sums and means
# leave their noise.
SIGNIFICANT_DIGITS = 15


def without_float_noise(value: float) -> float:
    """`value` with representation noise removed; NaN and infinities stay (a diverged run).

    A value exactly representable in float32 came from a float32 computation (Keras metrics):
    its shortest float32 decimal is the value as computed. Any other fraction keeps 15
    significant digits; whole numbers stay as they are.
    """
    value = float(value)
    if not math.isfinite(value) or value.is_integer():
        return value  # counts stay exact, however large
    single = np.float32(value)
    if math.isfinite(single) and float(single) == value:
        return float(str(single))  # numpy prints a float32's shortest round-trip decimal
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def seconds(elapsed: float) -> float:
    """A duration to the millisecond: what a timer measures beyond it is noise, not signal."""
    return round(float(elapsed), 3)


def metric_value(key: str, value: float) -> float:
    """What the session logs for metric `key`: a duration (named `*_s`, rule 7) to the
    millisecond, any other value without representation noise."""
    if key.endswith("_s") and math.isfinite(value):
        return seconds(value)
    return without_float_noise(value)
