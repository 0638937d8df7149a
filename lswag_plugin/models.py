"""Model specifications on the command line: ``timm:NAME``, ``nb201:ARCH``, ``SPACE:ARCH``, ``module:FILE:FN``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from torch import nn

from lswag_plugin.engine.rng import seeded
from lswag_plugin.errors import BadArchitecture, UnknownSpace
from lswag_plugin.spaces import SearchSpace, get_space

__all__ = ["build_model", "default_resolution", "model_cache_id"]


def build_model(
    spec: str, *, num_classes: int = 10, resolution: int | None = None, seed: int = 0
) -> nn.Module:
    """Returns a freshly initialised model (weights drawn with ``seed``) from a specification string.

    - ``timm:NAME`` — ``timm.create_model(NAME, pretrained=False, num_classes=...)`` (``img_size`` is set to
      ``resolution`` for models that take it);
    - ``nb201:ARCH_STR`` or any registered space, ``SPACE:ARCH`` (JSON for dict architectures);
    - ``module:path/to/file.py:factory`` — calls ``factory()`` (with ``num_classes=`` if it accepts it).

    Raises:
        BadArchitecture: The specification is malformed or names nothing that exists.
    """
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise BadArchitecture(
            f"model spec {spec!r} must look like timm:NAME, nb201:ARCH or module:FILE:FN"
        )
    if kind == "timm":
        import timm

        if rest not in timm.list_models():
            raise BadArchitecture(f"timm has no model {rest!r} (see timm.list_models())")
        kwargs = {"pretrained": False, "num_classes": num_classes}
        if resolution is not None:
            try:
                with seeded(seed):
                    return timm.create_model(rest, img_size=resolution, **kwargs)
            except TypeError:
                pass
        with seeded(seed):
            return timm.create_model(rest, **kwargs)
    if kind == "module":
        path, sep, fn_name = rest.rpartition(":")
        if not sep or not Path(path).exists():
            raise BadArchitecture(
                f"module spec must be module:path/to/file.py:factory with an existing file, got {rest!r}"
            )
        mod_spec = importlib.util.spec_from_file_location(Path(path).stem, path)
        module = importlib.util.module_from_spec(mod_spec)  # type: ignore[arg-type]
        mod_spec.loader.exec_module(module)  # type: ignore[union-attr]
        factory = getattr(module, fn_name, None)
        if factory is None:
            raise BadArchitecture(f"{path} defines no {fn_name!r}")
        with seeded(seed):
            try:
                model = factory(num_classes=num_classes)
            except TypeError:
                model = factory()
        if not isinstance(model, nn.Module):
            raise BadArchitecture(
                f"{path}:{fn_name}() returned {type(model).__name__}, not an nn.Module"
            )
        return model
    space = _space_of(kind, spec)
    return space.build_seeded(
        space.decode(rest), seed=seed, num_classes=num_classes, resolution=resolution
    )


def _space_of(kind: str, spec: str) -> SearchSpace:
    try:
        return get_space(kind)
    except UnknownSpace as exc:
        raise BadArchitecture(f"model spec {spec!r}: {exc}; or timm:NAME, module:FILE:FN") from exc


def model_cache_id(spec: str) -> tuple[str | None, str]:
    """Returns ``(namespace, canonical architecture)`` of a model spec for score-cache keys.

    ``("timm", NAME)`` for timm models, ``(space, space.encode(arch))`` for search-space architectures,
    and ``(None, spec)`` for ``module:`` factories (their code can change: never cached).
    """
    kind, _, rest = spec.partition(":")
    if kind == "timm":
        return "timm", rest
    if kind == "module":
        return None, spec
    space = _space_of(kind, spec)
    return space.name, space.encode(space.decode(rest))


def default_resolution(model: nn.Module, fallback: int = 32) -> int:
    """Returns the input size a model expects (timm's ``pretrained_cfg``/``patch_embed``), else ``fallback``."""
    patch_embed = getattr(model, "patch_embed", None)
    img_size = getattr(patch_embed, "img_size", None)
    if img_size is not None:
        return int(img_size[0] if isinstance(img_size, tuple | list) else img_size)
    cfg = getattr(model, "pretrained_cfg", None) or {}
    size = cfg.get("input_size") if isinstance(cfg, dict) else None
    return int(size[-1]) if size else fallback
