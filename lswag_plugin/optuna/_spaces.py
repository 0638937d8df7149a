"""Search spaces as ``trial.suggest_*`` calls: NAS-Bench-101/201, DARTS, AutoFormer, PiT, and timm."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from lswag_plugin.errors import BadArchitecture
from lswag_plugin.spaces._base import SearchSpace
from lswag_plugin.spaces.pool import PoolSpace

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
    - NAS-Bench-101 (``"nb101"``): the 21 entries of the 7×7 upper-triangular adjacency as 0/1
      parameters ``edge_<from>_<to>`` (``edge_0_1`` … ``edge_5_6``, vertex 0 the input, 6 the output),
      and ``op_1`` … ``op_5`` over the three interior ops; returns the cell pruned to its input→output
      paths (:meth:`~lswag_plugin.spaces.nb101.NB101.validate`). A draw with no valid cell (the output
      unreachable, or more than 9 edges left after pruning) raises ``optuna.TrialPruned`` with the
      reason, also stored in ``trial.user_attrs["prune_reason"]``.
    - DARTS (``"darts"``, ``"darts-eval"``): per cell ``normal``/``reduce`` and node ``k`` = 2..5,
      ``<cell>_node<k>_in0`` over the earlier nodes 0..k-1 and ``<cell>_node<k>_op0`` over the seven ops,
      then the second input, conditional on the first (the two must differ):
      ``<cell>_node<k>_in1_not<in0>`` over the other earlier nodes, and ``<cell>_node<k>_op1``; returns
      the genotype dict (pairs ``[op, input]``).
    - PiT (``"pit"``): ``base_dim``, ``mlp_ratio``, ``depth_0`` … ``depth_2`` (each stage's choices) and
      ``num_heads``, one of the space's non-decreasing head triples written ``"2-4-8"``; returns the dict.
    - AutoFormer (``"autoformer-t"``/``"-s"``/``"-b"``): ``embed_dim`` and ``depth``, then ``mlp_ratio_<i>``
      and ``num_heads_<i>`` for each of the ``depth`` layers (conditional parameters); returns the dict.
    - A :class:`~lswag_plugin.spaces.PoolSpace`: the parameters of the wrapped space, then the pool
      member nearest to that architecture (:meth:`~lswag_plugin.spaces.PoolSpace.nearest`). The
      sampler models the space's choices; the trial's value is that of the nearest pool member, so
      several parameter sets share one member (a repeat).

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
    from lswag_plugin.spaces.darts import DARTS
    from lswag_plugin.spaces.nb101 import NB101
    from lswag_plugin.spaces.pit import PiT

    space = _space(space)
    if isinstance(space, PoolSpace):
        return space.decode(space.nearest(suggest_architecture(trial, space.space, prefix=prefix)))
    if space.name == "nb201":
        from lswag_plugin.spaces.nb201 import EDGES, OPS, to_arch_str

        return to_arch_str(
            [trial.suggest_categorical(f"{prefix}edge_{i}_{j}", list(OPS)) for i, j in EDGES]
        )
    if isinstance(space, NB101):
        return _suggest_nb101(trial, space, prefix)
    if isinstance(space, DARTS):
        return _suggest_darts(trial, space, prefix)
    if isinstance(space, PiT):
        return _suggest_pit(trial, space, prefix)
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
        f"search space {space.name!r} has no Optuna mapping (NB101, NB201, DARTS, PiT and AutoFormer "
        "have one); write "
        "build_model(trial) with trial.suggest_* calls and space.build(arch) yourself"
    )


def _suggest_nb101(trial: Any, space: SearchSpace, prefix: str) -> dict[str, Any]:
    """NB101: 21 edge bits and 5 ops; the cell pruned by the space, or ``optuna.TrialPruned``."""
    import optuna

    from lswag_plugin.spaces.nb101 import MAX_VERTICES, OPS

    n = MAX_VERTICES
    matrix = [[0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            matrix[i][j] = trial.suggest_categorical(f"{prefix}edge_{i}_{j}", [0, 1])
    ops = [trial.suggest_categorical(f"{prefix}op_{k}", list(OPS)) for k in range(1, n - 1)]
    try:
        return space.validate({"matrix": matrix, "ops": ["input", *ops, "output"]})
    except BadArchitecture as exc:  # disconnected, or too many edges once pruned
        reason = str(exc)
        trial.set_user_attr(f"{prefix}prune_reason", reason)
        raise optuna.TrialPruned(reason) from None


def _suggest_darts(trial: Any, space: SearchSpace, prefix: str) -> dict[str, Any]:
    """DARTS: per cell and node, two distinct earlier inputs (the second conditional) and two ops."""
    from lswag_plugin.spaces.darts import CELL_TYPES, NODES, OPS

    arch: dict[str, list[list[Any]]] = {}
    for kind in CELL_TYPES:
        pairs: list[list[Any]] = []
        for node in range(2, NODES + 2):
            name = f"{prefix}{kind}_node{node}"
            first = trial.suggest_categorical(f"{name}_in0", list(range(node)))
            pairs.append([trial.suggest_categorical(f"{name}_op0", list(OPS)), first])
            second = trial.suggest_categorical(
                f"{name}_in1_not{first}", [s for s in range(node) if s != first]
            )
            pairs.append([trial.suggest_categorical(f"{name}_op1", list(OPS)), second])
        arch[kind] = pairs
    return space.validate(arch)


def _heads_text(heads: Sequence[int]) -> str:
    return "-".join(map(str, heads))


def _suggest_pit(trial: Any, space: SearchSpace, prefix: str) -> dict[str, Any]:
    """PiT: base_dim, mlp_ratio, a depth per stage and one non-decreasing head triple."""
    c = space.choices  # type: ignore[attr-defined]
    triples = {_heads_text(t): list(t) for t in c.head_triples()}
    arch = {
        "base_dim": trial.suggest_categorical(f"{prefix}base_dim", list(c.base_dim)),
        "mlp_ratio": trial.suggest_categorical(f"{prefix}mlp_ratio", list(c.mlp_ratio)),
        "depth": [
            trial.suggest_categorical(f"{prefix}depth_{s}", list(d)) for s, d in enumerate(c.depth)
        ],
        "num_heads": triples[trial.suggest_categorical(f"{prefix}num_heads", list(triples))],
    }
    return space.validate(arch)


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
