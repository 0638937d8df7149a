"""Model specifications on the command line: ``timm:NAME``, ``nb201:ARCH``, ``SPACE:ARCH``, ``module:FILE:FN``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from lswag_plugin.errors import BadArchitecture

__all__ = ["build_model", "default_resolution"]


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
    torch.manual_seed(seed)
    if kind == "timm":
        import timm

        if rest not in timm.list_models():
            raise BadArchitecture(f"timm has no model {rest!r} (see timm.list_models())")
        kwargs = {"pretrained": False, "num_classes": num_classes}
        if resolution is not None:
            try:
                return timm.create_model(rest, img_size=resolution, **kwargs)
            except TypeError:
                pass
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
        try:
            model = factory(num_classes=num_classes)
        except TypeError:
            model = factory()
        if not isinstance(model, nn.Module):
            raise BadArchitecture(
                f"{path}:{fn_name}() returned {type(model).__name__}, not an nn.Module"
            )
        return model
    from lswag_plugin.spaces import get_space

    try:
        space = get_space(kind)
    except KeyError as exc:
        raise BadArchitecture(str(exc.args[0])) from exc
    arch = space.decode(rest)
    torch.manual_seed(seed)
    return space.build(arch, num_classes=num_classes, resolution=resolution)


def default_resolution(model: nn.Module, fallback: int = 32) -> int:
    """Returns the input size a model expects (timm's ``pretrained_cfg``/``patch_embed``), else ``fallback``."""
    patch_embed = getattr(model, "patch_embed", None)
    img_size = getattr(patch_embed, "img_size", None)
    if img_size is not None:
        return int(img_size[0] if isinstance(img_size, tuple | list) else img_size)
    cfg = getattr(model, "pretrained_cfg", None) or {}
    size = cfg.get("input_size") if isinstance(cfg, dict) else None
    return int(size[-1]) if size else fallback
