"""tracking_demo: plain-MLflow training tasks for laptops and Azure ML."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tracking-demo")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
