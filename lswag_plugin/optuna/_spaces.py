"""Search spaces as ``trial.suggest_*`` calls: any registered space (its ``suggest`` method), and timm."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from lswag_plugin.errors import BadArchitecture
from lswag_plugin.spaces import SearchSpace, get_space

__all__ = ["space_builder", "suggest_architecture", "timm_builder"]


def _space(space: SearchSpace | str) -> SearchSpace:
    return get_space(space) if isinstance(space, str) else space


def suggest_architecture(trial: Any, space: SearchSpace | str, *, prefix: str = "") -> Any:
    """Returns an architecture of ``space`` chosen by ``trial.suggest_*`` calls: ``space.suggest(trial)``.

    Each space defines its parameters in :meth:`~lswag_plugin.spaces.SearchSpace.suggest` (NB201: six
    ``edge_<to>_<from>`` ops; NB101: 21 edge bits and five ops, a draw with no valid cell raising
    ``optuna.TrialPruned``; DARTS: two distinct inputs and ops per node; PiT; AutoFormer: parameters
    conditional on the depth; a :class:`~lswag_plugin.spaces.PoolSpace`: the member nearest to the
    wrapped space's suggestion), so a newly registered space works here with no other edit.

    Args:
        trial: An Optuna trial (``Trial`` or ``FixedTrial``).
        space: A :class:`~lswag_plugin.spaces.SearchSpace` or its registered name.
        prefix: Prepended to every parameter name (to search two spaces in one study).

    Raises:
        BadArchitecture: The space has no Optuna mapping (the message says what to do instead).
        optuna.TrialPruned: NAS-Bench-101: the drawn adjacency holds no valid cell.

    Example:
        >>> import optuna
        >>> from lswag_plugin.optuna import suggest_architecture
        >>> trial = optuna.trial.FixedTrial({"edge_1_0": "nor_conv_3x3", "edge_2_0": "none",
        ...     "edge_2_1": "skip_connect", "edge_3_0": "none", "edge_3_1": "none", "edge_3_2": "nor_conv_1x1"})
        >>> suggest_architecture(trial, "nb201")
        '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_1x1~2|'
        >>> edges = {(0, 1), (1, 6), (0, 2)}  # vertex 2 leads nowhere: pruned
        >>> params = {f"edge_{i}_{j}": int((i, j) in edges) for i in range(7) for j in range(i + 1, 7)}
        >>> params |= {f"op_{k}": "conv3x3-bn-relu" for k in range(1, 6)}
        >>> suggest_architecture(optuna.trial.FixedTrial(params), "nb101")
        {'matrix': [[0, 1, 0], [0, 0, 1], [0, 0, 0]], 'ops': ['input', 'conv3x3-bn-relu', 'output']}
    """
    return _space(space).suggest(trial, prefix=prefix)


def space_builder(
    space: SearchSpace | str,
    *,
    num_classes: int = 10,
    resolution: int | None = None,
    prefix: str = "",
) -> Callable[[Any], nn.Module]:
    """Returns ``build_model(trial)``: suggests an architecture of ``space`` and builds it untrained.

    The architecture's canonical string is stored in ``trial.user_attrs["arch"]`` (a NAS-Bench-101 draw
    with no valid cell raises ``optuna.TrialPruned`` instead: see :func:`suggest_architecture`). The
    builder carries ``space``, ``prefix`` and ``num_classes`` attributes: a :class:`ZeroCostObjective`
    with a disk ``cache`` keys its scores by the space and that string.

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
