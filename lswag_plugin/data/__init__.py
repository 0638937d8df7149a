"""Data: the batches proxies score and the benchmark tables they are judged against.

- Batches (:mod:`lswag_plugin.data.batches`): :func:`load_batch` makes ``(x, y)`` from tensors, a
  DataLoader, a ``.npz`` file, an image folder, ``"cifar10"``/``"cifar100"`` (a seeded batch of the
  training split through torchvision) or the photographs scikit-image ships.
- Tables (:mod:`lswag_plugin.data.catalog`, :mod:`lswag_plugin.data.store`,
  :mod:`lswag_plugin.data.build`): :func:`table_path` returns a benchmark table by name (``"nb201"``,
  ``"nb201-zc"``, ``"nb101"``, ``"nb301"``, ``"autoformer-tiny"``), fetched from its pinned public
  sources and built on first use; ``lswag data`` is its command line.

Example:
    >>> from lswag_plugin.data import dataset_names
    >>> dataset_names()
    ['nb201', 'nb201-zc', 'nb101', 'nb301', 'autoformer-tiny']
"""

from lswag_plugin.data.batches import (
    DEFAULT_DATA_ENV,
    batch_fingerprint,
    default_batch,
    load_batch,
    resize,
    shared_data_dir,
)
from lswag_plugin.data.catalog import DATASETS, Dataset, Source, dataset_names
from lswag_plugin.data.store import (
    DATA_HOME_ENV,
    MIRROR_ENV,
    data_home,
    fetch,
    is_fetched,
    resolve_table,
    table_path,
)

__all__ = [
    "DATASETS",
    "DATA_HOME_ENV",
    "DEFAULT_DATA_ENV",
    "MIRROR_ENV",
    "Dataset",
    "Source",
    "batch_fingerprint",
    "data_home",
    "dataset_names",
    "default_batch",
    "fetch",
    "is_fetched",
    "load_batch",
    "resize",
    "resolve_table",
    "shared_data_dir",
    "table_path",
]
