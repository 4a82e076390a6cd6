"""The housing model's import path before `tasks/models/`: versions saved then pickled their
pyfunc class under this name, so it must keep resolving for them to load."""

from tracking_demo.tasks.models.housing import HousingMlpModel

__all__ = ["HousingMlpModel"]
