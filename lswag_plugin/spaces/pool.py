"""A search space restricted to a fixed pool of architectures (e.g. the rows of a benchmark table).

NAS-Bench-101's and NAS-Bench-301's published tables hold only some architectures of their spaces. A
:class:`PoolSpace` wraps the full space so that every strategy proposes pool members only:

- :meth:`~PoolSpace.sample` draws a pool member uniformly;
- :meth:`~PoolSpace.mutate` mutates the parent in the full space, then returns the pool member
  **nearest** to that mutant, the parent excluded (so a mutation always moves);
- :meth:`~PoolSpace.crossover` crosses the parents over in the full space and returns the pool member
  nearest to the child, both parents excluded;
- :meth:`~PoolSpace.suggest` (Optuna) and :meth:`~PoolSpace.from_nni_sample` (NNI) return the member
  nearest to the wrapped space's proposal (:meth:`~PoolSpace.nearest`): the samplers keep modelling
  the space's own choices.

"Nearest" is the Hamming distance between the architectures' choices: NB201's six edge ops; NB101's
7×7 adjacency and seven ops of the cell padded to seven vertices (NASLib's key; isomorphic cells are
not identified); the flattened JSON values of any other space (DARTS: the 32 ops and inputs). Ties are
broken by a hash of the query's canonical string, so a projection is deterministic and prefers no
position in the pool. ``encode``/``decode``/``validate``/``build`` delegate to the wrapped space, and
the pool keeps its name (cache keys are those of the full space).

Example:
    >>> import numpy as np
    >>> from lswag_plugin.spaces import get_space
    >>> from lswag_plugin.spaces.pool import PoolSpace
    >>> nb201 = get_space("nb201")
    >>> pool = PoolSpace(nb201, nb201.all_archs()[:40])
    >>> rng = np.random.default_rng(0)
    >>> arch = pool.sample(rng)
    >>> pool.contains(arch), pool.contains(pool.mutate(arch, rng)), len(pool)
    (True, True, 40)
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from torch import nn

from lswag_plugin.spaces._base import SearchSpace

__all__ = ["PoolSpace", "choices"]

_PAD = -2  # a position a shorter architecture lacks
_UNSEEN = -1  # a value no pool member has at that position


def _flatten(value: Any, path: str, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        for key in sorted(value):
            _flatten(value[key], f"{path}/{key}", out)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _flatten(item, f"{path}/{i}", out)
    else:
        out.append((path, value))


def choices(space: SearchSpace, arch: Any) -> list[Any]:
    """Returns the choices of ``arch`` whose Hamming distance :class:`PoolSpace` uses.

    Example:
        >>> from lswag_plugin.spaces import get_space
        >>> choices(get_space("nb201"), "|none~0|+|none~0|skip_connect~1|+|none~0|none~1|none~2|")
        ['none', 'none', 'skip_connect', 'none', 'none', 'none']
    """
    from lswag_plugin.spaces.nb101 import NB101, to_naslib_key

    if space.name == "nb201":
        from lswag_plugin.spaces.nb201 import parse_arch

        return list(parse_arch(arch))
    if isinstance(space, NB101):
        return json.loads("[" + to_naslib_key(arch)[1:-1] + "]")
    out: list[tuple[str, Any]] = []
    _flatten(space.validate(arch), "", out)
    return [(p, v) for p, v in out]  # the path keeps lists of different lengths aligned by name


class PoolSpace(SearchSpace):
    """``space`` restricted to the architectures ``archs`` (deduplicated, in canonical-key order).

    Args:
        space: The full search space (``encode``, ``build``, ... delegate to it).
        archs: The pool (architectures or their canonical strings); at least one.
        min_prob: The smallest non-zero ``prob`` passed to ``space.mutate`` (0.05).

    Raises:
        ValueError: The pool is empty.

    Example:
        >>> import numpy as np
        >>> from lswag_plugin.spaces import get_space
        >>> nb201 = get_space("nb201")
        >>> pool = PoolSpace(nb201, ["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        ...                          "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        ...                          "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"])
        >>> pool.nearest("|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2|")  # one edge away from two: a tie
        '|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|'
    """

    def __init__(self, space: SearchSpace, archs: Iterable[Any], *, min_prob: float = 0.05) -> None:
        if isinstance(space, PoolSpace):
            space = space.space
        if not 0.0 <= min_prob <= 1.0:
            raise ValueError(f"min_prob must be in [0, 1], got {min_prob}")
        self.space = space
        self.min_prob = float(min_prob)
        self.name = space.name
        self.default_resolution = space.default_resolution
        #: The pool's canonical keys, sorted.
        self.keys: list[str] = sorted({space.encode(a) for a in archs})
        if not self.keys:
            raise ValueError("a PoolSpace needs at least one architecture")
        self._index = {k: i for i, k in enumerate(self.keys)}
        rows = [self._choices(k) for k in self.keys]
        width = max(len(r) for r in rows)
        self._vocab: list[dict[Any, int]] = [{} for _ in range(width)]
        codes = np.full((len(rows), width), _PAD, dtype=np.int64)
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                codes[i, j] = self._vocab[j].setdefault(value, len(self._vocab[j]))
        self._codes = codes

    def __len__(self) -> int:
        return len(self.keys)

    def _choices(self, key: str) -> list[Any]:
        return [json.dumps(c) for c in choices(self.space, self.space.decode(key))]

    def contains(self, arch: Any) -> bool:
        """Whether ``arch`` is in the pool."""
        return self.encode(arch) in self._index

    def fingerprint(self) -> str:
        """Returns ``"<size>-<sha1 of the keys, 12 hex>"``: tells pools apart in stored runs."""
        digest = hashlib.sha1("\n".join(self.keys).encode()).hexdigest()[:12]
        return f"{len(self.keys)}-{digest}"

    def distances(self, arch: Any) -> np.ndarray:
        """Returns the Hamming distance of ``arch``'s choices to every pool member (pool order)."""
        row = self._choices(self.encode(arch))
        width = self._codes.shape[1]
        query = np.full(width, _PAD, dtype=np.int64)
        for j, value in enumerate(row[:width]):
            query[j] = self._vocab[j].get(value, _UNSEEN)
        return (self._codes != query).sum(axis=1) + max(len(row) - width, 0)

    def nearest(self, arch: Any, *, exclude: Iterable[Any] = ()) -> str:
        """Returns the key of the pool member nearest to ``arch`` (``arch`` itself if it is a member).

        Members in ``exclude`` are skipped unless nothing else is left. Ties are broken by a hash of
        ``arch``'s canonical string (deterministic, no preference for a position in the pool).
        """
        key = self.encode(arch)
        d = self.distances(key).astype(np.float64)
        skip = [self._index[k] for k in (self.encode(a) for a in exclude) if k in self._index]
        if len(skip) < len(self.keys):
            d[skip] = np.inf
        ties = np.flatnonzero(d == d.min())
        return self.keys[int(ties[zlib.crc32(key.encode()) % len(ties)])]

    def sample(self, rng: np.random.Generator) -> Any:
        """Returns a pool member drawn uniformly."""
        return self.space.decode(self.keys[int(rng.integers(len(self.keys)))])

    def mutate(self, arch: Any, rng: np.random.Generator, *, prob: float = 0.2) -> Any:
        """Returns the pool member nearest to ``space.mutate(arch, prob=p)``, ``arch`` excluded.

        ``p`` is ``prob``, raised to :attr:`min_prob` when it is above 0 and below it: a tiny
        ``prob`` only makes a space such as NB101 redraw until something changes (slow), and the
        projection onto the pool moves further than one choice anyway. ``prob`` 0 is passed as is.
        """
        p = max(prob, self.min_prob) if prob > 0 else prob
        child = self.space.mutate(arch, rng, prob=p)
        return self.space.decode(self.nearest(child, exclude=[arch]))

    def crossover(self, a: Any, b: Any, rng: np.random.Generator) -> Any:
        """Returns the pool member nearest to ``space.crossover(a, b)``, ``a`` and ``b`` excluded."""
        child = self.space.crossover(a, b, rng)
        return self.space.decode(self.nearest(child, exclude=[a, b]))

    def suggest(self, trial: Any, *, prefix: str = "") -> Any:
        """Returns the member nearest to the wrapped space's suggestion (its parameters, its sampler).

        Several parameter sets share a member: the trial's value is that of the nearest member.
        """
        return self.space.decode(self.nearest(self.space.suggest(trial, prefix=prefix)))

    def from_nni_sample(self, sample: Mapping[str, Any]) -> Any:
        """Returns the member nearest to the wrapped space's architecture of an NNI sample."""
        return self.space.decode(self.nearest(self.space.from_nni_sample(sample)))

    def to_nni_sample(self, arch: Any) -> dict[str, Any]:
        return self.space.to_nni_sample(arch)

    def nni_model_space(self) -> Any:
        """Returns the wrapped space's NNI model space (samples are projected onto the pool)."""
        return self.space.nni_model_space()

    def validate(self, arch: Any) -> Any:
        return self.space.validate(arch)

    def encode(self, arch: Any) -> str:
        return self.space.encode(arch)

    def decode(self, text: str) -> Any:
        return self.space.decode(text)

    def build(
        self, arch: Any, *, num_classes: int = 10, resolution: int | None = None
    ) -> nn.Module:
        return self.space.build(arch, num_classes=num_classes, resolution=resolution)

    def num_params(self, arch: Any, *, num_classes: int = 10) -> int:
        return self.space.num_params(arch, num_classes=num_classes)
