"""Review signals as plug-ins (see :mod:`livegate.review.signals.base`)."""

from livegate.review.signals.base import (
    AudioSignal,
    ContentKind,
    DuplicateSignalType,
    Example,
    Finding,
    ImageSignal,
    SignalRegistry,
    SignalType,
    TextSignal,
)

__all__ = ["AudioSignal", "ContentKind", "DuplicateSignalType", "Example", "Finding", "ImageSignal",
           "SignalRegistry", "SignalType", "TextSignal"]
