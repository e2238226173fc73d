"""The shapes the refresh computes with: orders as numpy columns sorted by customer and time, and text
columns coded as positions in a short vocabulary so that rows travel as numbers."""

from dataclasses import dataclass

import numpy as np
from django.db.models import TextChoices

from guanxi.commerce.models import Order

SECONDS_PER_DAY = 86_400
# An order's device travels in the low bits of its item count: one column fewer to aggregate and decode.
DEVICE_CODES = {Order.Device.MOBILE: 1, Order.Device.APP: 2, Order.Device.PC: 3, Order.Device.OFFLINE: 4}
DEVICE_BITS = 3
PHONE_DEVICE_CODES = (DEVICE_CODES[Order.Device.MOBILE], DEVICE_CODES[Order.Device.APP])


@dataclass
class OrderArrays:
    """Sale orders, one entry each: customer and unit ids, UTC epoch seconds, net amount in cents, items,
    and the device (DEVICE_CODES, 0 when unknown)."""

    customer: np.ndarray
    unit: np.ndarray
    seconds: np.ndarray
    cents: np.ndarray
    items: np.ndarray
    device: np.ndarray

    def where(self, mask: np.ndarray) -> "OrderArrays":
        return OrderArrays(
            *(
                getattr(self, name)[mask]
                for name in ("customer", "unit", "seconds", "cents", "items", "device")
            )
        )

    def sorted(self) -> "OrderArrays":
        """By customer, then time; done once, since every subset of a sorted log stays sorted."""
        if _is_sorted(self.customer, self.seconds):
            return self
        if len(self.seconds) and self.seconds.max() - self.seconds.min() < 2**32 and self.customer.min() >= 0:
            # One stable argsort of a combined key costs half of np.lexsort's two.
            order = np.argsort(self.customer << 32 | (self.seconds - self.seconds.min()), kind="stable")
        else:
            order = np.lexsort((self.seconds, self.customer))
        return self.where(order)


def _is_sorted(customer: np.ndarray, seconds: np.ndarray) -> bool:
    same = customer[1:] == customer[:-1]
    return bool(np.all(customer[1:] >= customer[:-1]) and np.all(seconds[1:][same] >= seconds[:-1][same]))


def value_runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique(…, return_index=True, return_counts=True) of a sorted array, in one pass."""
    starts = (
        np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
        if len(sorted_values)
        else np.zeros(0, dtype=np.intp)
    )
    return sorted_values[starts], starts, np.diff(np.r_[starts, len(sorted_values)])


@dataclass(frozen=True)
class Coded:
    """A text column as positions in a short vocabulary, so that rows travel as numbers."""

    vocabulary: tuple[str, ...]
    codes: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray, choices: type[TextChoices]) -> "Coded":
        """Encode values of `choices` (or "") by binary search: sorting a million strings costs seconds."""
        vocabulary = np.array(sorted({"", *choices.values}))
        values = np.asarray(values).astype(vocabulary.dtype)
        codes = np.minimum(np.searchsorted(vocabulary, values), len(vocabulary) - 1)
        if not np.array_equal(vocabulary[codes], values):
            raise ValueError(f"values outside {choices.__name__}")
        return cls(tuple(str(v) for v in vocabulary), codes.astype(np.int64))

    @classmethod
    def constant(cls, value: str, count: int) -> "Coded":
        return cls((value,), np.zeros(count, dtype=np.int64))
