"""Layer bands [l̂, L̂] as percentile bins (METHOD.md Eq. 6)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NUM_BINS", "LayerBand", "percentile_bin"]

NUM_BINS = 10


def percentile_bin(index: int, count: int, num_bins: int = NUM_BINS) -> int:
    """Returns the percentile bin of layer ``index`` (0-based) among ``count`` layers.

    ``perc(l) = int((l / D) * 100 // (100 / num_bins))``, so with 10 bins layer 0 is in bin 0 and the last
    layer in bin 9.
    """
    if count <= 0:
        raise ValueError("count must be positive")
    return int((index / count) * 100 // (100 / num_bins))


@dataclass(frozen=True)
class LayerBand:
    """An inclusive range of percentile bins ``[low, high]``.

    Λ sums over the weight layers whose bin is in ``[low, high]``; Ψ counts patterns over the activation
    layers whose bin is ``<= high`` (layers 1..L̂). The default, all bins, is what the label-free spike
    detection falls back to when no bin stands out — the case measured on NAS-Bench-201 and AutoFormer.

    Example:
        >>> band = LayerBand(2, 7)
        >>> band.contains_weight_layer(0, 10), band.contains_weight_layer(5, 10)
        (False, True)
    """

    low: int = 0
    high: int = NUM_BINS - 1

    def __post_init__(self) -> None:
        if not (0 <= self.low <= self.high < NUM_BINS):
            raise ValueError(
                f"layer band must satisfy 0 <= low <= high <= {NUM_BINS - 1}, got [{self.low}, {self.high}]"
            )

    def contains_weight_layer(self, index: int, count: int) -> bool:
        """Whether weight layer ``index`` of ``count`` is in the Λ band."""
        return self.low <= percentile_bin(index, count) <= self.high

    def contains_activation_layer(self, index: int, count: int) -> bool:
        """Whether activation layer ``index`` of ``count`` is in Ψ's range (bins ``0..high``)."""
        return percentile_bin(index, count) <= self.high

    @classmethod
    def parse(cls, value: LayerBand | tuple[int, int] | str | None) -> LayerBand:
        """Returns a band from a band, a ``(low, high)`` pair, ``"low:high"`` or None (all bins)."""
        if value is None or value == "all":
            return cls()
        if isinstance(value, LayerBand):
            return value
        if isinstance(value, str):
            try:
                low, high = (int(v) for v in value.split(":"))
            except ValueError as exc:
                raise ValueError(
                    f"layer band must look like 'low:high' (bins 0-9), got {value!r}"
                ) from exc
            return cls(low, high)
        low, high = value
        return cls(int(low), int(high))
