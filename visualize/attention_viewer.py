"""The interactive attention viewer's logic: the state machine of :mod:`visualize.state` over
the records of a split, as a :class:`~visualize.viewer.Viewer` for the window.

Records are computed on demand (one forward pass per sample) and the last few are kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from visualize.attention_view import attention_camera, attention_cloud, limits_of, strongest_slot
from visualize.propagate import nearest_indices
from visualize.record import AttentionRecord
from visualize.state import ViewState, clamp, describe, key_legend, step
from visualize.viewer import Frame

__all__ = ["AttentionViewer"]


class AttentionViewer:
    """Step through samples, layers, heads and slots/query points of a split.

    Args:
        load: sample index -> its record (runs the model).
        samples: samples in the split.
        model_note: what the model is (checkpoint name, or "random init (seed 0)"), shown in the
            title.
        state: where to start.
        cache_size: records kept in memory.
    """

    def __init__(
        self,
        load: Callable[[int], AttentionRecord],
        samples: int,
        model_note: str,
        state: ViewState = ViewState(),
        cache_size: int = 8,
    ) -> None:
        if not 0 <= state.sample < samples:
            raise IndexError(f"sample {state.sample} out of range: the split has {samples} samples")
        self._load = load
        self._cache: OrderedDict[int, AttentionRecord] = OrderedDict()
        self._cache_size = cache_size
        self.samples = samples
        self.model_note = model_note
        self.state = clamp(state, limits_of(self.record(state.sample), samples))

    def record(self, sample: int) -> AttentionRecord:
        """The record of ``sample`` (cached)."""
        if sample in self._cache:
            self._cache.move_to_end(sample)
        else:
            self._cache[sample] = self._load(sample)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return self._cache[sample]

    @property
    def current(self) -> AttentionRecord:
        return self.record(self.state.sample)

    def legend(self) -> str:
        return "keys:\n" + key_legend() + "\n  Ctrl+click  pick a point: its query row (offset) / its strongest slot (external)"

    def press(self, key: str) -> bool:
        new = step(self.state, key, limits_of(self.current, self.samples))
        if new.sample != self.state.sample:
            new = clamp(new, limits_of(self.record(new.sample), self.samples))
        changed = new != self.state
        self.state = new
        return changed

    def pick(self, point: np.ndarray) -> bool:
        """Select the attention point nearest to ``point``: offset attention shows its row;
        external attention shows the weights on the slot it attends to most."""
        record = self.current
        nearest = int(nearest_indices(record.positions, np.asarray(point, dtype=np.float64).reshape(1, 3))[0])
        if record.kind == "offset":
            new = replace(self.state, query=nearest)
        else:
            slot = strongest_slot(record, self.state.layer, self.state.head, nearest)
            new = replace(self.state, slot=slot, colour_by="weight")
        changed = new != self.state
        self.state = new
        return changed

    def frame(self) -> Frame:
        record = self.current
        limits = limits_of(record, self.samples)
        title = f"pointea attention ({record.kind}) | {self.model_note} | {describe(self.state, limits)}"
        status = f"{self.model_note}\n{record.caption}\n{describe(self.state, limits).replace(' | ', chr(10))}"
        cloud = attention_cloud(record, self.state)
        return Frame(clouds=(cloud,), title=title, status=status, camera=attention_camera(record))
