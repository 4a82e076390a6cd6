"""Data sets: creation and validated loading. Loaders raise `DataError` naming file and problem."""
