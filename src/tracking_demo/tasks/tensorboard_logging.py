"""TensorBoard event files uploaded while the network trains, not only when it is done.

`tracking-demo tensorboard RUN` shows a run that is still training, as the LeNet tutorial's
TensorBoard does. At each epoch's end the callback flushes Keras's summary writers (TensorFlow
would otherwise hold events for up to two minutes) and hands every file that grew to the
session, which keeps a copy in the run's write-ahead log and uploads it in the background
(docs/architecture.md, rule 4): training never waits on the server. Event files are
append-only, so each upload replaces the server's copy with a longer one; a file whose size did
not change is not sent again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import keras

TENSORBOARD_ARTIFACT_DIR = "tensorboard"

# (local file, artifact folder): `TrackingSession.log_artifact`.
UploadFile = Callable[[Path, str], None]


class ChangedFileUploader:
    """Uploads the files under `log_dir` whose size differs from the last upload."""

    def __init__(
        self, log_dir: Path, upload: UploadFile, artifact_dir: str = TENSORBOARD_ARTIFACT_DIR
    ) -> None:
        self.log_dir = log_dir
        self._upload = upload
        self._artifact_dir = artifact_dir
        self._uploaded_sizes: dict[Path, int] = {}

    def upload_changed(self) -> list[Path]:
        """Hand every new or grown file to `upload`; returns those files."""
        if not self.log_dir.is_dir():
            return []
        changed = []
        for path in sorted(p for p in self.log_dir.rglob("*") if p.is_file()):
            size = path.stat().st_size
            if self._uploaded_sizes.get(path) == size:
                continue
            folder = PurePosixPath(self._artifact_dir, *path.parent.relative_to(self.log_dir).parts)
            self._upload(path, str(folder))
            self._uploaded_sizes[path] = size
            changed.append(path)
        return changed


class UploadingTensorBoard(keras.callbacks.TensorBoard):
    """Keras's TensorBoard callback whose event files reach the run at every epoch's end."""

    def __init__(self, log_dir: Path, upload: UploadFile, **options: Any) -> None:
        super().__init__(log_dir=str(log_dir), **options)
        self.uploader = ChangedFileUploader(log_dir, upload)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        for writer in self._summary_writers().values():
            writer.flush()
        self.uploader.upload_changed()

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        super().on_train_end(logs)  # closes the writers: the files are complete
        self.uploader.upload_changed()

    def _summary_writers(self) -> Mapping[str, Any]:
        """Keras keeps its writers private (`_writers`, created on first use); none yet is
        fine."""
        writers = getattr(self, "_writers", None)
        return writers if isinstance(writers, Mapping) else {}
