"""Signal types as plug-ins, in the manner of python-threatexchange's signal types.

A signal type says which content it applies to (:class:`ContentKind`), how it looks at one
item (``analyse``), and gives examples: inputs it must flag and inputs it must pass. Abilities
are mixins (:class:`TextSignal`, :class:`ImageSignal`, :class:`AudioSignal`). A
:class:`SignalRegistry` refuses two plug-ins with one name, and every plug-in inherits the
shared test ``tests/review/test_signal_types.py`` (``SignalTypeAutoTest``), which runs its
examples, so adding a plug-in is adding its examples too.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np


class ContentKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"


@dataclass(frozen=True)
class Finding:
    """What one signal found in one item. ``score`` is 0-100; ``exact`` means certain enough
    to act without a person (a close hash-bank match)."""

    signal: str
    score: float
    label: str
    details: dict[str, Any] = field(default_factory=dict)
    exact: bool = False


@dataclass(frozen=True)
class Example:
    """An example input: ``flag`` says whether the plug-in must find something in it."""

    content: Any
    flag: bool
    note: str = ""


class SignalType(abc.ABC):
    name: ClassVar[str]
    content_kinds: ClassVar[frozenset[ContentKind]]

    @property
    def available(self) -> bool:
        """False when an optional dependency (a model, a provider) is not there."""
        return True

    @property
    def unavailable_reason(self) -> str:
        return ""

    @abc.abstractmethod
    def examples(self) -> Sequence[Example]: ...


class TextSignal(SignalType):
    content_kinds: ClassVar[frozenset[ContentKind]] = frozenset({ContentKind.TEXT})

    @abc.abstractmethod
    def analyse_text(self, text: str) -> Finding | None: ...


class ImageSignal(SignalType):
    content_kinds: ClassVar[frozenset[ContentKind]] = frozenset({ContentKind.IMAGE})

    @abc.abstractmethod
    def analyse_image(self, rgb: np.ndarray, jpeg: bytes | None = None) -> Finding | None: ...


class AudioSignal(SignalType):
    content_kinds: ClassVar[frozenset[ContentKind]] = frozenset({ContentKind.AUDIO})

    @abc.abstractmethod
    def analyse_audio(self, pcm: np.ndarray, sample_rate: int) -> Finding | None: ...


class DuplicateSignalType(ValueError):
    pass


class SignalRegistry:
    def __init__(self) -> None:
        self._by_name: dict[str, SignalType] = {}

    def register(self, signal: SignalType) -> SignalType:
        if not getattr(signal, "name", ""):
            raise ValueError("a signal type needs a name")
        if signal.name in self._by_name:
            raise DuplicateSignalType(f"signal type {signal.name!r} is already registered")
        if not signal.content_kinds:
            raise ValueError(f"signal type {signal.name!r} applies to no content")
        self._by_name[signal.name] = signal
        return signal

    def get(self, name: str) -> SignalType:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[SignalType]:
        return iter(list(self._by_name.values()))

    def for_kind(self, kind: ContentKind) -> list[SignalType]:
        return [s for s in self if kind in s.content_kinds and s.available]

    def text(self) -> list[TextSignal]:
        return [s for s in self.for_kind(ContentKind.TEXT) if isinstance(s, TextSignal)]

    def image(self) -> list[ImageSignal]:
        return [s for s in self.for_kind(ContentKind.IMAGE) if isinstance(s, ImageSignal)]

    def audio(self) -> list[AudioSignal]:
        return [s for s in self.for_kind(ContentKind.AUDIO) if isinstance(s, AudioSignal)]

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": s.name, "content": sorted(k.value for k in s.content_kinds), "available": s.available,
                 "reason": s.unavailable_reason} for s in self]
