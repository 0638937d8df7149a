"""The registered ``libra`` proxy: the fused score of a fitted :class:`~lswag_plugin.libra.LibraModel`.

The model file comes from the proxy's options (``options={"libra": {"model": PATH}}``) or from
``$LSWAG_LIBRA_MODEL``. The proxy declares its members (``requires``), so the engine computes them in the
same shared passes; the fused score uses only fit-time statistics, so one candidate is scored on its own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lswag_plugin.engine.config import file_fingerprint
from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.registry import Needs, register_proxy
from lswag_plugin.errors import LibraError
from lswag_plugin.libra._model import LibraModel, load

__all__ = ["LIBRA_MODEL_ENV", "load_model", "model_path"]

#: Environment variable naming the default LIBRA model file.
LIBRA_MODEL_ENV = "LSWAG_LIBRA_MODEL"
_LOADED: dict[tuple[str, float], LibraModel] = {}


def model_path(options: dict[str, Any]) -> Path:
    """Returns the LIBRA model file named by ``options["model"]`` or ``$LSWAG_LIBRA_MODEL``.

    Raises:
        LibraError: Neither is set.

    Example:
        >>> model_path({"model": "runs/libra.json"}).name
        'libra.json'
    """
    path = options.get("model") or os.environ.get(LIBRA_MODEL_ENV)
    if not path:
        raise LibraError(
            "the libra proxy needs a fitted model: pass options={'libra': {'model': 'libra.json'}} "
            f"(CLI: --libra-model) or set ${LIBRA_MODEL_ENV}; fit one with `lswag libra fit`"
        )
    return Path(path)


def load_model(options: dict[str, Any]) -> LibraModel:
    """Returns the :class:`~lswag_plugin.libra.LibraModel` of ``options`` (loaded once per file version).

    Raises:
        LibraError: No model file is named, or it is missing or damaged.

    Example:
        >>> import tempfile, pathlib
        >>> from lswag_plugin.libra import fit
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "libra.json"
        >>> _ = fit({"a": [1.0, 2.0, 3.0]}, [1.0, 2.0, 3.0], [1, 2, 3], directions={"a": "max"}).save(path)
        >>> load_model({"model": str(path)}) is load_model({"model": str(path)})
        True
    """
    path = model_path(options)
    try:
        key = (str(path.resolve()), path.stat().st_mtime)
    except FileNotFoundError:
        return load(path)  # raises LibraError naming the file and the fix
    if key not in _LOADED:
        _LOADED[key] = load(path)
    return _LOADED[key]


def _members(options: dict[str, Any]) -> list[str]:
    return list(load_model(options).selected)


def _model_fingerprint(options: dict[str, Any]) -> str:
    """The content of the model file (not its path): a model refitted at the same path is a new key."""
    return file_fingerprint(model_path(options))


@register_proxy(
    "libra",
    direction="max",
    needs=Needs.NOTHING,
    requires=_members,
    fingerprint=_model_fingerprint,
)
def libra(ctx: PassResults) -> float:
    """LIBRA-NAS (Casarin et al., CVPR 2025): fusion of three proxies chosen by ρ, information gain and bias.

    Reads the members' scores from ``ctx.values``: the engine computes every required proxy once,
    before this one, in the same shared passes. Higher is better; −inf when a member is not finite
    (e.g. a disconnected NB201 cell).
    """
    model = load_model(ctx.options.get("libra", {}))
    return model.score({name: ctx.values[name] for name in model.selected})
