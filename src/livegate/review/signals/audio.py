"""Audio: a speech-to-text provider turns the audio tap's chunks into text, and the
transcript goes through the lexicon like any other text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from livegate.review.signals.base import AudioSignal, Example, Finding
from livegate.review.signals.lexicon import LexiconSignal


class SpeechToText(Protocol):
    name: str

    def transcribe(self, pcm: np.ndarray, sample_rate: int) -> str: ...


class TranscriptSignal(AudioSignal):
    name = "transcript"

    def __init__(self, stt: SpeechToText | None, lexicon: LexiconSignal | None = None) -> None:
        self.stt = stt
        self.lexicon = lexicon or LexiconSignal()

    @property
    def available(self) -> bool:
        return self.stt is not None

    @property
    def unavailable_reason(self) -> str:
        return "" if self.stt is not None else "no speech-to-text provider configured"

    def analyse_audio(self, pcm: np.ndarray, sample_rate: int) -> Finding | None:
        if self.stt is None:
            return None
        transcript = self.stt.transcribe(pcm, sample_rate)
        found = self.lexicon.analyse_text(transcript)
        if found is None:
            return None
        return Finding(self.name, found.score, found.label,
                       {"transcript": transcript, "stt": self.stt.name, **found.details})

    def examples(self) -> Sequence[Example]:
        return []  # needs a provider; the tests use a scripted one
