"""Search spaces: sample, encode/decode, mutate, cross over and build architectures."""

from lswag_plugin.spaces import autoformer, nb201  # noqa: F401
from lswag_plugin.spaces._base import SearchSpace, available_spaces, get_space, register_space

__all__ = ["SearchSpace", "available_spaces", "get_space", "register_space"]
