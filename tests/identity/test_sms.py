"""SMS providers: the console outbox, and the Alibaba Cloud adapter against a local server
that checks the request by the documented signature algorithm, written here afresh."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from livegate.core.clock import ManualClock
from livegate.identity.errors import (
    SmsError,
    SmsMisconfigured,
    SmsRecipientRejected,
    SmsRejected,
    SmsThrottled,
    SmsUnavailable,
)
from livegate.identity.sms import (
    AliyunSmsProvider,
    ConsoleSmsProvider,
    SmsOutbox,
    SmsProvider,
    aliyun_signature,
)

PHONE = "+8613812345678"
KEY_ID = "testid"
SECRET = "testsecret"


# --- an independent implementation of Alibaba Cloud's RPC signature (version 1.0) -------

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def doc_percent_encode(text: str) -> str:
    """The documented table: A-Z a-z 0-9 - _ . ~ as is; every other UTF-8 byte as %XY (upper hex)."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def doc_signature(params: dict[str, str], secret: str, method: str = "GET") -> str:
    canonical = "&".join(doc_percent_encode(k) + "=" + doc_percent_encode(params[k]) for k in sorted(params))
    string_to_sign = method + "&" + doc_percent_encode("/") + "&" + doc_percent_encode(canonical)
    mac = hmac.new((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def test_documented_example_signature() -> None:
    # The worked example of Alibaba Cloud's "Signature mechanism" page (DescribeRegions).
    params = {
        "TimeStamp": "2016-02-23T12:46:24Z",
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "Version": "2014-05-26",
        "SignatureVersion": "1.0",
    }
    assert doc_signature(params, "testsecret") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="
    assert aliyun_signature(params, "testsecret") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


def test_signature_agrees_on_awkward_characters() -> None:
    params = {
        "A": "a b*c~d+e/f?g=h&i",
        "SignName": "直播平台",
        "TemplateParam": '{"code":"012345"}',
        "Z": "'!()",
    }
    assert aliyun_signature(params, "s3cr3t") == doc_signature(params, "s3cr3t")


# --- the local Alibaba Cloud stand-in --------------------------------------------------

REQUIRED = {
    "AccessKeyId",
    "Action",
    "Format",
    "PhoneNumbers",
    "SignName",
    "TemplateCode",
    "TemplateParam",
    "RegionId",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
    "Version",
    "Signature",
}


@dataclass
class FakeAliyun:
    url: str = ""
    secrets: dict[str, str] = field(default_factory=lambda: {KEY_ID: SECRET})
    reply: tuple[int, Any] | None = None  # forced (status, body) after a valid signature
    requests: list[dict[str, str]] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)

    def handle(self, method: str, raw_query: str) -> tuple[int, Any]:
        pairs = parse_qsl(raw_query, keep_blank_values=True, strict_parsing=True)
        params = dict(pairs)
        assert len(params) == len(pairs), "duplicate parameter"
        self.requests.append(params)
        request_id = f"REQ-{len(self.requests)}"
        missing = REQUIRED - params.keys()
        if missing:
            return 400, {
                "RequestId": request_id,
                "Code": "MissingParameter",
                "Message": f"missing {sorted(missing)}",
            }
        secret = self.secrets.get(params["AccessKeyId"])
        if secret is None:
            return 404, {
                "RequestId": request_id,
                "Code": "InvalidAccessKeyId.NotFound",
                "Message": "not found",
            }
        signature = params.pop("Signature")
        if not hmac.compare_digest(signature, doc_signature(params, secret, method)):
            return 400, {"RequestId": request_id, "Code": "SignatureDoesNotMatch", "Message": "bad signature"}
        if params["SignatureNonce"] in self.nonces:
            return 400, {"RequestId": request_id, "Code": "SignatureNonceUsed", "Message": "nonce used"}
        self.nonces.add(params["SignatureNonce"])
        dt.datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ")
        assert params["Action"] == "SendSms" and params["Version"] == "2017-05-25"
        assert params["SignatureMethod"] == "HMAC-SHA1" and params["SignatureVersion"] == "1.0"
        assert params["Format"] == "JSON"
        if self.reply is not None:
            status, body = self.reply
            if isinstance(body, dict):
                body = {"RequestId": request_id, **body}
            return status, body
        return 200, {"Message": "OK", "RequestId": request_id, "BizId": "900619746936498440^0", "Code": "OK"}


@pytest.fixture
def aliyun() -> Iterator[FakeAliyun]:
    fake = FakeAliyun()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            status, body = fake.handle("GET", urlsplit(self.path).query)
            payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval keeps shutdown() from waiting its default half second per test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def provider(url: str, **kw: Any) -> AliyunSmsProvider:
    options: dict[str, Any] = {
        "access_key_id": KEY_ID,
        "access_key_secret": SECRET,
        "sign_name": "直播门",
        "templates": {"login": "SMS_123456789"},
        "endpoint": url,
        "timeout": 5.0,
        "clock": ManualClock(dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)),
    }
    options.update(kw)
    return AliyunSmsProvider(**options)


async def test_send_code_success(aliyun: FakeAliyun, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="livegate")
    receipt = await provider(aliyun.url).send_code(PHONE, "012345", template="login")
    assert receipt.provider == "aliyun"
    assert receipt.message_id == "900619746936498440^0"
    assert receipt.request_id == "REQ-1"
    sent = aliyun.requests[0]
    assert sent["PhoneNumbers"] == "13812345678"
    assert sent["SignName"] == "直播门"
    assert sent["TemplateCode"] == "SMS_123456789"
    assert json.loads(sent["TemplateParam"]) == {"code": "012345"}
    assert sent["Timestamp"] == "2026-03-04T05:06:07Z"
    assert sent["RegionId"] == "cn-hangzhou"
    assert "13812345678" not in caplog.text and "012345" not in caplog.text
    assert "+86 138****5678" in caplog.text


async def test_each_request_has_a_fresh_nonce(aliyun: FakeAliyun) -> None:
    sms = provider(aliyun.url)
    await sms.send_code(PHONE, "111111", template="login")
    await sms.send_code(PHONE, "222222", template="login")
    assert len(aliyun.nonces) == 2


async def test_wrong_secret_is_refused_by_the_server_and_mapped(aliyun: FakeAliyun) -> None:
    with pytest.raises(SmsMisconfigured) as info:
        await provider(aliyun.url, access_key_secret="wrong").send_code(PHONE, "012345", template="login")
    assert info.value.provider_code == "SignatureDoesNotMatch"
    assert info.value.request_id == "REQ-1"
    assert "012345" not in str(info.value.to_dict()) and "13812345678" not in str(info.value.to_dict())


async def test_unknown_access_key(aliyun: FakeAliyun) -> None:
    with pytest.raises(SmsMisconfigured) as info:
        await provider(aliyun.url, access_key_id="nobody").send_code(PHONE, "012345", template="login")
    assert info.value.provider_code == "InvalidAccessKeyId.NotFound"


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (200, "isv.BUSINESS_LIMIT_CONTROL", SmsThrottled),
        (200, "isv.MOBILE_NUMBER_ILLEGAL", SmsRecipientRejected),
        (200, "isv.SMS_TEMPLATE_ILLEGAL", SmsMisconfigured),
        (200, "isv.AMOUNT_NOT_ENOUGH", SmsMisconfigured),
        (200, "isv.SOMETHING_NEW", SmsRejected),
        (500, "InternalError", SmsUnavailable),
        (200, "isp.SYSTEM_ERROR", SmsUnavailable),
    ],
)
async def test_documented_failure_bodies_are_mapped(
    aliyun: FakeAliyun, status: int, code: str, error: type[SmsError]
) -> None:
    aliyun.reply = (status, {"Code": code, "Message": "refused for 13812345678"})
    with pytest.raises(error) as info:
        await provider(aliyun.url).send_code(PHONE, "012345", template="login")
    assert info.value.provider_code == code
    assert "13812345678" not in info.value.message
    assert "13812345678" not in str(info.value.to_dict())


@pytest.mark.parametrize(("status", "error"), [(502, SmsUnavailable), (200, SmsRejected)])
async def test_non_json_answers(aliyun: FakeAliyun, status: int, error: type[SmsError]) -> None:
    aliyun.reply = (status, "<html>gateway</html>")
    with pytest.raises(error) as info:
        await provider(aliyun.url).send_code(PHONE, "012345", template="login")
    assert info.value.provider_code == f"http_{status}"


async def test_unknown_template_is_a_configuration_error(aliyun: FakeAliyun) -> None:
    with pytest.raises(SmsMisconfigured):
        await provider(aliyun.url).send_code(PHONE, "012345", template="bind_phone")
    assert aliyun.requests == []


async def test_unreachable_endpoint() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(SmsUnavailable) as info:
            await provider("https://sms.invalid/", client=client).send_code(PHONE, "0", template="login")
    assert info.value.provider_code == "ConnectError"


async def test_timeout_is_unavailable_and_passed_to_httpx() -> None:
    seen: list[Any] = []

    def slow(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions.get("timeout"))
        raise httpx.ReadTimeout("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
        with pytest.raises(SmsUnavailable) as info:
            await provider("https://sms.invalid/", client=client, timeout=1.5).send_code(PHONE, "0", template="login")
    assert info.value.provider_code == "timeout"
    assert seen and seen[0]["read"] == 1.5


def test_repr_hides_the_secret() -> None:
    assert SECRET not in repr(provider("http://x/"))


# --- console provider ------------------------------------------------------------------


async def test_console_provider_keeps_the_code_in_the_outbox_not_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="livegate")
    outbox = SmsOutbox()
    sms = ConsoleSmsProvider(outbox)
    assert isinstance(sms, SmsProvider)
    receipt = await sms.send_code(PHONE, "654321", template="login")
    assert receipt.provider == "console" and receipt.message_id
    assert outbox.last_code(PHONE) == "654321"
    assert outbox.last_code("+8613900000000") is None
    assert "654321" not in caplog.text
    assert "13812345678" not in caplog.text
    assert "+86 138****5678" in caplog.text
    assert "654321" not in repr(outbox.sent[0]) and "13812345678" not in repr(outbox.sent[0])


async def test_outbox_wait_for_code_waits_on_the_send() -> None:
    sms = ConsoleSmsProvider()
    waiter = asyncio.create_task(sms.outbox.wait_for_code(PHONE))
    await asyncio.sleep(0)  # let the waiter register; no time passes
    assert not waiter.done()
    await sms.send_code(PHONE, "000111", template="login")
    assert await waiter == "000111"
    sms.outbox.clear()
    assert sms.outbox.last_code(PHONE) is None
