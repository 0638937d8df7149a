"""NNI samples ↔ architectures of our spaces: each space converts its own (``from_nni_sample``).

:func:`arch_from_sample` and :func:`sample_from_arch` work for any registered space that implements the
conversion; the per-space names below are kept for code written against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lswag_plugin.spaces import SearchSpace, get_space


def _space(space: SearchSpace | str) -> SearchSpace:
    return get_space(space) if isinstance(space, str) else space


def arch_from_sample(space: SearchSpace | str, sample: Mapping[str, Any]) -> Any:
    """Returns the architecture of ``space`` that an NNI sample of its model space describes.

    Raises:
        BadArchitecture: The space has no NNI mapping, or the sample is not one of its cells.

    Example:
        >>> from lswag_plugin.nni import arch_from_sample, sample_from_arch
        >>> arch = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_1x1~2|"
        >>> sample_from_arch("nb201", arch)["cell/0_1"]
        'conv_3x3'
        >>> arch_from_sample("nb201", sample_from_arch("nb201", arch)) == arch
        True
    """
    return _space(space).from_nni_sample(sample)


def sample_from_arch(space: SearchSpace | str, arch: Any) -> dict[str, Any]:
    """Returns the NNI sample of ``arch`` (the inverse of :func:`arch_from_sample`)."""
    return _space(space).to_nni_sample(arch)


def nb201_arch_from_sample(sample: Mapping[str, Any]) -> str:
    """Returns the NB201 string of an NNI ``NasBench201`` sample (:meth:`NB201.from_nni_sample
    <lswag_plugin.spaces.nb201.NB201.from_nni_sample>`)."""
    return get_space("nb201").from_nni_sample(sample)


def nb101_arch_from_sample(sample: Mapping[str, Any], *, label: str = "cell") -> dict[str, Any]:
    """Returns the pruned ``nb101`` cell of an NNI ``NasBench101`` sample (:meth:`NB101.from_nni_sample
    <lswag_plugin.spaces.nb101.NB101.from_nni_sample>`)."""
    return get_space("nb101").from_nni_sample(sample, label=label)  # type: ignore[call-arg]


def nb101_sample_from_arch(
    arch: Any, *, label: str = "cell", max_num_nodes: int = 7
) -> dict[str, Any]:
    """Returns the NNI ``NasBench101`` sample of an ``nb101`` cell (:meth:`NB101.to_nni_sample
    <lswag_plugin.spaces.nb101.NB101.to_nni_sample>`)."""
    space = get_space("nb101")
    return space.to_nni_sample(arch, label=label, max_num_nodes=max_num_nodes)  # type: ignore[call-arg]


def darts_arch_from_sample(sample: Mapping[str, Any]) -> dict[str, list[list[Any]]]:
    """Returns the ``darts`` genotype of an NNI ``DARTS`` sample (:meth:`DARTS.from_nni_sample
    <lswag_plugin.spaces.darts.DARTS.from_nni_sample>`)."""
    return get_space("darts").from_nni_sample(sample)


def darts_sample_from_arch(arch: Any) -> dict[str, Any]:
    """Returns the NNI ``DARTS`` sample of a ``darts`` genotype (:meth:`DARTS.to_nni_sample
    <lswag_plugin.spaces.darts.DARTS.to_nni_sample>`)."""
    return get_space("darts").to_nni_sample(arch)
