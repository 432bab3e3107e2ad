"""An image classifier: NudeNet's detector (an ONNX model shipped inside the ``nudenet``
package) on onnxruntime.

Optional (its licence is the operator's choice): ``pip install nudenet``. Without it the
plug-in reports ``available = False`` with the reason, and the review module skips it.
Pre- and post-processing are done here with NumPy and Pillow (the package's own helpers
want 4-channel arrays and OpenCV), the model itself is the package's file, loaded with no
network access.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from livegate.review.signals.base import Example, Finding, ImageSignal

LABELS = (
    "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED", "BELLY_COVERED",
    "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE", "BELLY_EXPOSED", "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED", "FEMALE_BREAST_COVERED", "BUTTOCKS_COVERED",
)
#: Classes that make a picture a candidate violation (Art. 9: obscene content).
VIOLATING = frozenset({"BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED", "FEMALE_GENITALIA_EXPOSED",
                       "ANUS_EXPOSED", "MALE_GENITALIA_EXPOSED"})
INPUT_SIZE = 320


def model_path() -> Path | None:
    spec = importlib.util.find_spec("nudenet")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "320n.onnx"
    return path if path.exists() else None


class NudityClassifierSignal(ImageSignal):
    name = "nudenet"

    def __init__(self, *, threshold: float = 0.5, threads: int = 1) -> None:
        self.threshold = threshold
        self.threads = threads
        self._session: Any = None
        self._lock = threading.Lock()
        self._reason = ""

    def _load(self) -> Any:
        with self._lock:
            if self._session is not None or self._reason:
                return self._session
            path = model_path()
            if path is None:
                self._reason = "not installed: pip install nudenet (brings onnxruntime and the model)"
                return None
            try:
                import onnxruntime as ort
            except ImportError:
                self._reason = "not installed: onnxruntime is missing"
                return None
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
            return self._session

    @property
    def available(self) -> bool:
        return self._load() is not None

    @property
    def unavailable_reason(self) -> str:
        self._load()
        return self._reason

    @staticmethod
    def preprocess(rgb: np.ndarray) -> np.ndarray:
        """Pad to a square at the bottom-right (as the model was trained), resize to 320, NCHW 0-1."""
        h, w = rgb.shape[:2]
        side = max(h, w)
        square = np.zeros((side, side, 3), dtype=np.uint8)
        square[:h, :w] = rgb[..., :3]
        resized = Image.fromarray(square).resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
        arr = np.asarray(resized, dtype=np.float32) / 255.0
        return np.ascontiguousarray(arr.transpose(2, 0, 1)[None])

    def detect(self, rgb: np.ndarray) -> list[dict[str, Any]]:
        session = self._load()
        if session is None:
            return []
        inp = session.get_inputs()[0].name
        out = session.run(None, {inp: self.preprocess(rgb)})[0]
        rows = np.squeeze(out).T  # (boxes, 4 + classes)
        scores = rows[:, 4:]
        best = scores.max(axis=1)
        keep = np.flatnonzero(best >= 0.2)
        found: dict[str, float] = {}
        for i in keep:
            label = LABELS[int(scores[i].argmax())]
            found[label] = max(found.get(label, 0.0), float(best[i]))
        return [{"class": k, "score": round(v, 4)} for k, v in sorted(found.items(), key=lambda kv: -kv[1])]

    def analyse_image(self, rgb: np.ndarray, jpeg: bytes | None = None) -> Finding | None:
        detections = self.detect(rgb)
        bad = [d for d in detections if d["class"] in VIOLATING and d["score"] >= self.threshold]
        if not bad:
            return None
        return Finding(self.name, round(100.0 * bad[0]["score"], 1), bad[0]["class"].lower(),
                       {"detections": detections})

    def examples(self) -> Sequence[Example]:
        from livegate.review.signals.hashbank import example_picture

        # No explicit picture ships with livegate; the auto-test checks that clean pictures pass.
        return [Example(example_picture(3), False, "shapes"), Example(np.zeros((240, 320, 3), np.uint8), False)]
