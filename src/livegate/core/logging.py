"""Structured logging that never carries identity data, passwords, tokens or stream keys.

Code is written not to log such values; the redacting filter is the safety net under it:
it masks anything that looks like a mainland phone number, an ID-card number, a bearer
token or a session/stream secret before a record is emitted.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

_PATTERNS = [
    (re.compile(r"(?<![0-9A-Za-z])(?:\+?86|0086)?1[3-9]\d{9}(?![0-9])"), "<phone>"),
    (re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])"), "<id-number>"),
    (re.compile(r"(?<![0-9A-Za-z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Za-z])"), "<uscc>"),
    (re.compile(r"lg_[A-Za-z0-9_\-]{20,}"), "<api-token>"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]+"), r"\1<token>"),
    (re.compile(r"(?i)(password|passwd|secret|stream_key|token|otp|code)(['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"),
     r"\1\2<redacted>"),
    (re.compile(r"/live/[A-Za-z0-9_\-]{16,}"), "/live/<stream-key>"),
]


def redact(text: str) -> str:
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        red = redact(msg)
        if red != msg or record.args:
            record.msg = red
            record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False)


def configure_logging(level: str = "INFO", json_logs: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter() if json_logs else logging.Formatter("%(asctime)s %(levelname)-5s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "libav", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
