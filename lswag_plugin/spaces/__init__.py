"""Search spaces: sample, encode/decode, mutate, cross over and build architectures."""

from lswag_plugin.spaces import autoformer, darts, nb101, nb201, pit  # noqa: F401
from lswag_plugin.spaces._base import SearchSpace, available_spaces, get_space, register_space
from lswag_plugin.spaces.pool import PoolSpace

__all__ = ["PoolSpace", "SearchSpace", "available_spaces", "get_space", "register_space"]
