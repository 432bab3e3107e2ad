"""The shared test every signal plug-in inherits (as python-threatexchange's
SignalTypeAutoTest): its examples are run, flagged ones must be found, clean ones must pass.
Plus the registry's rules and the optional classifier loaded from its installed package."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from livegate.review.signals.audio import TranscriptSignal
from livegate.review.signals.base import (
    ContentKind,
    DuplicateSignalType,
    Finding,
    ImageSignal,
    SignalRegistry,
    SignalType,
    TextSignal,
)
from livegate.review.signals.classifier import NudityClassifierSignal, model_path
from livegate.review.signals.hashbank import HashBankSignal, example_picture
from livegate.review.signals.lexicon import LexiconSignal


class ScriptedSpeech:
    """A speech-to-text provider that 'hears' a fixed transcript (the interface, without a model)."""

    name = "scripted"

    def __init__(self, transcript: str) -> None:
        self.transcript = transcript

    def transcribe(self, pcm: np.ndarray, sample_rate: int) -> str:
        return self.transcript


def all_plugins() -> list[SignalType]:
    from livegate.chat.lexicon import Lexicon

    bad = next(e.term for e in Lexicon.default().entries if e.action.value == "block")
    return [LexiconSignal(), HashBankSignal(), NudityClassifierSignal(), TranscriptSignal(ScriptedSpeech(bad))]


def _run(plugin: SignalType, content: object) -> Finding | None:
    if isinstance(plugin, TextSignal) and isinstance(content, str):
        return plugin.analyse_text(content)
    if isinstance(plugin, ImageSignal) and isinstance(content, np.ndarray):
        return plugin.analyse_image(content)
    raise AssertionError(f"{plugin.name} got an example it cannot take: {type(content)}")


class SignalTypeAutoTest:
    """Subclass with ``plugin`` set (or parametrise) to get these checks for a new plug-in."""

    def check(self, plugin: SignalType) -> None:
        assert plugin.name and plugin.content_kinds
        if not plugin.available:
            assert plugin.unavailable_reason, "an unavailable plug-in says why"
            return
        for ex in plugin.examples():
            found = _run(plugin, ex.content)
            assert (found is not None) == ex.flag, f"{plugin.name}: {ex.note or ex.content!r}"
            if found is not None:
                assert found.signal == plugin.name and 0 <= found.score <= 100


@pytest.fixture(params=[p.name for p in all_plugins()])
def plugin(request: pytest.FixtureRequest) -> Iterator[SignalType]:
    yield next(p for p in all_plugins() if p.name == request.param)


def test_every_plugin_passes_the_shared_test(plugin: SignalType) -> None:
    SignalTypeAutoTest().check(plugin)


def test_registry_refuses_duplicates_and_filters_by_kind() -> None:
    reg = SignalRegistry()
    for p in all_plugins():
        reg.register(p)
    with pytest.raises(DuplicateSignalType):
        reg.register(LexiconSignal())
    assert [s.name for s in reg.text()] == ["lexicon"]
    assert "pdq_bank" in [s.name for s in reg.image()]
    assert [s.name for s in reg.audio()] == ["transcript"]
    assert {d["name"] for d in reg.describe()} == {"lexicon", "pdq_bank", "nudenet", "transcript"}
    assert ContentKind.TEXT in LexiconSignal.content_kinds


def test_transcript_goes_through_the_lexicon() -> None:
    from livegate.chat.lexicon import Lexicon

    bad = next(e.term for e in Lexicon.default().entries if e.action.value == "block")
    sig = TranscriptSignal(ScriptedSpeech(f"and then {bad} he said"))
    found = sig.analyse_audio(np.zeros(16000, np.int16), 16000)
    assert found is not None and found.details["transcript"].endswith("he said")
    assert TranscriptSignal(ScriptedSpeech("good evening")).analyse_audio(np.zeros(10, np.int16), 16000) is None
    assert not TranscriptSignal(None).available


def test_hash_bank_skips_low_quality_frames_and_marks_close_matches_exact() -> None:
    bank = HashBankSignal(exact_distance=8)
    from livegate.review.signals.pdq import pdq_hash_rgb

    pic = example_picture(21)
    bank.add(1, pdq_hash_rgb(pic), "x")
    hit = bank.analyse_image(pic)
    assert hit is not None and hit.exact and hit.details["distance"] == 0
    flat = np.full((240, 320, 3), 40, np.uint8)
    bank.add(2, pdq_hash_rgb(flat), "flat")
    assert bank.analyse_image(flat) is None  # quality 0 < 50: never matched


@pytest.mark.skipif(model_path() is None, reason="the optional nudenet extra is not installed")
def test_classifier_loads_from_the_installed_package_with_no_network_and_scores_real_frames(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*a: object, **k: object) -> None:
        raise AssertionError("the classifier tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    sig = NudityClassifierSignal()
    assert sig.available, sig.unavailable_reason
    # A real decoded frame from a real encoder (ffmpeg's test source through libx264).
    import tempfile
    from pathlib import Path

    import av

    from tests.review.media import write_flv

    with tempfile.TemporaryDirectory() as d:
        path = write_flv(Path(d) / "c.flv", [(example_picture(4), 1.0)])
        with av.open(str(path)) as c:
            frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
    detections = sig.detect(frame)
    assert isinstance(detections, list)
    assert all(0.0 <= d["score"] <= 1.0 for d in detections)
    assert sig.analyse_image(frame) is None  # coloured shapes are not nudity
