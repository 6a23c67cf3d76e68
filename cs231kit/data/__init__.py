"""CIFAR-10 for the course: download it, load it, split and preprocess it, or make a stand-in.

Start here::

    from cs231kit.data import get_cifar10_data
    data = get_cifar10_data()          # dict: X_train, y_train, X_val, y_val, X_test, y_test
    print(data.source)                 # "cifar10", "cifar10-jpeg" or "synthetic"

Modules, one job each:

- ``paths``:        the data directory and the environment variables that move it
- ``download``:     verified, retried, atomic download of the official archive (+ command line)
- ``cifar10``:      read (and write) the official "python version" batch format
- ``image_folder``: read an image-folder copy (one folder per class), with a decoded-array cache
- ``synthetic``:    learnable synthetic CIFAR-shaped data for offline tests and demos
- ``prepare``:      ``get_cifar10_data``: choose the source, split, subtract the mean
"""

from cs231kit.data.cifar10 import (
    CIFAR10_CLASSES,
    load_cifar10_batch,
    load_cifar10_batches,
    write_cifar10_archive,
)
from cs231kit.data.download import DownloadError, download_cifar10
from cs231kit.data.image_folder import load_image_folder
from cs231kit.data.paths import default_data_dir
from cs231kit.data.prepare import DataSplits, get_cifar10_data
from cs231kit.data.synthetic import make_synthetic_cifar10

__all__ = [
    "CIFAR10_CLASSES",
    "DataSplits",
    "DownloadError",
    "default_data_dir",
    "download_cifar10",
    "get_cifar10_data",
    "load_cifar10_batch",
    "load_cifar10_batches",
    "load_image_folder",
    "make_synthetic_cifar10",
    "write_cifar10_archive",
]
