"""Search spaces as ``trial.suggest_*`` calls: NAS-Bench-201, AutoFormer, and timm model names/kwargs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from lswag_plugin.errors import BadArchitecture
from lswag_plugin.spaces._base import SearchSpace

__all__ = ["space_builder", "suggest_architecture", "timm_builder"]


def _space(space: SearchSpace | str) -> SearchSpace:
    if isinstance(space, str):
        from lswag_plugin.spaces import get_space

        return get_space(space)
    return space


def suggest_architecture(trial: Any, space: SearchSpace | str, *, prefix: str = "") -> Any:
    """Returns an architecture of ``space`` chosen by ``trial.suggest_categorical`` calls.

    - NAS-Bench-201 (``"nb201"``): six categorical parameters ``edge_<to>_<from>`` (``edge_1_0``,
      ``edge_2_0``, ``edge_2_1``, ...) over the five ops; returns the NB201 string.
    - AutoFormer (``"autoformer-t"``/``"-s"``/``"-b"``): ``embed_dim`` and ``depth``, then ``mlp_ratio_<i>``
      and ``num_heads_<i>`` for each of the ``depth`` layers (conditional parameters); returns the dict.

    Args:
        trial: An Optuna trial (``Trial`` or ``FixedTrial``).
        space: A :class:`~lswag_plugin.spaces.SearchSpace` or its registered name.
        prefix: Prepended to every parameter name (to search two spaces in one study).

    Raises:
        BadArchitecture: The space has no Optuna mapping (the message says what to do instead).

    Example:
        >>> import optuna
        >>> from lswag_plugin.optuna import suggest_architecture
        >>> trial = optuna.trial.FixedTrial({"edge_1_0": "nor_conv_3x3", "edge_2_0": "none",
        ...     "edge_2_1": "skip_connect", "edge_3_0": "none", "edge_3_1": "none", "edge_3_2": "nor_conv_1x1"})
        >>> suggest_architecture(trial, "nb201")
        '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_1x1~2|'
    """
    space = _space(space)
    if space.name == "nb201":
        from lswag_plugin.spaces.nb201 import EDGES, OPS, to_arch_str

        return to_arch_str(
            [trial.suggest_categorical(f"{prefix}edge_{i}_{j}", list(OPS)) for i, j in EDGES]
        )
    choices = getattr(space, "choices", None)
    if choices is not None and all(
        hasattr(choices, f) for f in ("embed_dim", "depth", "mlp_ratio", "num_heads")
    ):
        depth = trial.suggest_categorical(f"{prefix}depth", list(choices.depth))
        arch = {
            "embed_dim": trial.suggest_categorical(f"{prefix}embed_dim", list(choices.embed_dim)),
            "depth": depth,
            "mlp_ratio": [
                trial.suggest_categorical(f"{prefix}mlp_ratio_{i}", list(choices.mlp_ratio))
                for i in range(depth)
            ],
            "num_heads": [
                trial.suggest_categorical(f"{prefix}num_heads_{i}", list(choices.num_heads))
                for i in range(depth)
            ],
        }
        return space.validate(arch)
    raise BadArchitecture(
        f"search space {space.name!r} has no Optuna mapping (NB201 and AutoFormer have one); write "
        "build_model(trial) with trial.suggest_* calls and space.build(arch) yourself"
    )


def space_builder(
    space: SearchSpace | str,
    *,
    num_classes: int = 10,
    resolution: int | None = None,
    prefix: str = "",
) -> Callable[[Any], nn.Module]:
    """Returns ``build_model(trial)``: suggests an architecture of ``space`` and builds it untrained.

    The architecture's canonical string is stored in ``trial.user_attrs["arch"]``. The builder carries
    ``space``, ``prefix`` and ``num_classes`` attributes: a :class:`ZeroCostObjective` with a disk
    ``cache`` keys its scores by the space and that string.

    Example:
        >>> import optuna
        >>> from lswag_plugin.optuna import space_builder
        >>> build = space_builder("nb201", num_classes=10)
        >>> study = optuna.create_study()
        >>> trial = study.ask()
        >>> type(build(trial)).__name__, trial.user_attrs["arch"].count("~")
        ('NB201Network', 6)
    """
    space = _space(space)

    def build_model(trial: Any) -> nn.Module:
        arch = suggest_architecture(trial, space, prefix=prefix)
        trial.set_user_attr(f"{prefix}arch", space.encode(arch))
        return space.build(arch, num_classes=num_classes, resolution=resolution)

    build_model.__qualname__ = f"space_builder({space.name!r})"
    build_model.space = space  # type: ignore[attr-defined]
    build_model.prefix = prefix  # type: ignore[attr-defined]
    build_model.num_classes = num_classes  # type: ignore[attr-defined]
    return build_model


def timm_builder(
    model_names: str | Sequence[str],
    *,
    choices: Mapping[str, Sequence[Any]] | None = None,
    fixed: Mapping[str, Any] | None = None,
    num_classes: int = 10,
    fused_attention: bool = True,
    prefix: str = "",
) -> Callable[[Any], nn.Module]:
    """Returns ``build_model(trial)`` over timm models: a model name and keyword arguments as parameters.

    The model name is the categorical parameter ``model`` (not suggested when there is one name); each
    entry of ``choices`` is a categorical parameter named after its keyword. The model is
    ``timm.create_model(name, pretrained=False, num_classes=num_classes, **fixed, **chosen)``.

    Args:
        model_names: One timm model name or several to choose from (``timm.list_models()``).
        choices: Keyword → values to choose from, e.g. ``{"depth": [4, 6], "embed_dim": [96, 192]}``.
            Values must be None, bool, int, float or str (Optuna's categorical values).
        fixed: Keyword arguments passed to every model (``img_size``, ``patch_size`` ...).
        num_classes: Classifier width.
        fused_attention: False switches timm attention to its explicit path (``fused_attn = False``), so
            attention maps exist and double backward works on CPU.
        prefix: Prepended to every parameter name.

    Example:
        >>> import optuna
        >>> from lswag_plugin.optuna import timm_builder
        >>> build = timm_builder("vit_tiny_patch16_224", choices={"depth": [2, 3]},
        ...                      fixed={"img_size": 32, "patch_size": 8, "embed_dim": 48, "num_heads": 2})
        >>> len(build(optuna.trial.FixedTrial({"depth": 2})).blocks)
        2
    """
    import timm

    names = [model_names] if isinstance(model_names, str) else list(model_names)
    if not names:
        raise ValueError("model_names is empty: give at least one timm model name")
    unknown = [n for n in names if not timm.is_model(n)]
    if unknown:
        raise BadArchitecture(
            f"unknown timm model(s) {', '.join(unknown)}; see timm.list_models('vit_*') for names"
        )
    choices = {k: list(v) for k, v in (choices or {}).items()}
    for key, values in choices.items():
        if not values:
            raise ValueError(f"choices[{key!r}] is empty")
    fixed = dict(fixed or {})
    clash = sorted(set(fixed) & set(choices))
    if clash:
        raise ValueError(f"{', '.join(clash)} both fixed and searched: keep each in one place")

    def build_model(trial: Any) -> nn.Module:
        name = names[0] if len(names) == 1 else trial.suggest_categorical(f"{prefix}model", names)
        chosen = {k: trial.suggest_categorical(f"{prefix}{k}", v) for k, v in choices.items()}
        model = timm.create_model(
            name, pretrained=False, num_classes=num_classes, **fixed, **chosen
        )
        if not fused_attention:
            for module in model.modules():
                if hasattr(module, "fused_attn"):
                    module.fused_attn = False
        return model

    return build_model
