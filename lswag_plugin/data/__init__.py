"""Data: scoring batches and the benchmark tables."""

from lswag_plugin.data.batches import (
    DEFAULT_DATA_ENV,
    batch_fingerprint,
    default_batch,
    load_batch,
    resize,
    shared_data_dir,
)

__all__ = [
    "DEFAULT_DATA_ENV",
    "batch_fingerprint",
    "default_batch",
    "load_batch",
    "resize",
    "shared_data_dir",
]
