"""The MNIST networks' event files reach the run at every epoch's end, not only at the end."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from tracking_demo.tasks.models.mnist import build
from tracking_demo.tasks.tensorboard_logging import ChangedFileUploader, UploadingTensorBoard


class _Uploads:
    """What the session would be handed: (artifact folder, file name, size then)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []

    def __call__(self, path: Path, folder: str) -> None:
        self.calls.append((folder, path.name, path.stat().st_size))


class _CountAtEpochEnd(keras.callbacks.Callback):
    def __init__(self, uploads: _Uploads) -> None:
        super().__init__()
        self.uploads = uploads
        self.counts: list[int] = []

    def on_epoch_end(self, epoch: int, logs: object = None) -> None:
        self.counts.append(len(self.uploads.calls))


def test_each_epoch_uploads_the_grown_event_files(tmp_path: Path) -> None:
    uploads = _Uploads()
    counter = _CountAtEpochEnd(uploads)
    rng = np.random.default_rng(0)
    x = rng.random((256, 784), dtype=np.float32)
    y = rng.integers(0, 10, 256)
    board = UploadingTensorBoard(tmp_path / "logs", uploads, update_freq="epoch")
    build("lenet", 0.001).fit(
        x, y, epochs=2, batch_size=64, validation_split=0.25, callbacks=[board, counter], verbose=0
    )
    assert counter.counts == [2, 4]  # train and validation files, every epoch
    folders = [folder for folder, _, _ in uploads.calls]
    assert folders == ["tensorboard/train", "tensorboard/validation"] * 2
    sizes = {folder: [size for f, _, size in uploads.calls if f == folder] for folder in folders}
    assert all(first < second for first, second in sizes.values())  # flushed each epoch
    assert len(uploads.calls) == 4  # unchanged at the end: not sent again


def test_only_new_or_resized_files_are_uploaded(tmp_path: Path) -> None:
    uploads = _Uploads()
    uploader = ChangedFileUploader(tmp_path, uploads)
    (tmp_path / "train").mkdir()
    events = tmp_path / "train" / "events.out.tfevents.1"
    events.write_bytes(b"1")
    assert uploader.upload_changed() == [events]
    assert uploader.upload_changed() == []
    events.write_bytes(b"12")
    (tmp_path / "top-level.txt").write_text("x")
    assert uploader.upload_changed() == [tmp_path / "top-level.txt", events]
    assert [c[0] for c in uploads.calls] == [
        "tensorboard/train",
        "tensorboard",
        "tensorboard/train",
    ]
