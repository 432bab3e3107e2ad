"""Sending verification codes by SMS.

The OTP service talks to an :class:`SmsProvider`; configuration picks the implementation:

* :class:`ConsoleSmsProvider` — the development default. It sends nothing; it logs *that* a
  code went out (number masked, code never logged) and keeps the last code per number in an
  in-process :class:`SmsOutbox`, so a developer's console or a test can read it without the
  code ever touching a log file.
* :class:`AliyunSmsProvider` — Alibaba Cloud SMS (``dysmsapi`` ``SendSms``, API version
  2017-05-25) over its RPC-style HTTP API, signed with signature version 1.0 (HMAC-SHA1 of
  the percent-encoded canonical query string). It is written against the published API
  rather than the vendor SDK so that it stays a small, auditable adapter on ``httpx``.

Provider failures become typed :class:`~livegate.identity.errors.SmsError` subclasses whose
details carry the provider's code and request id — never the number or the code.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable
from urllib.parse import quote

import httpx

from livegate.core.clock import Clock, SystemClock
from livegate.identity.errors import (
    SmsError,
    SmsMisconfigured,
    SmsRecipientRejected,
    SmsRejected,
    SmsThrottled,
    SmsUnavailable,
)
from livegate.identity.phone import mask_mobile

__all__ = [
    "AliyunSmsProvider",
    "ConsoleSmsProvider",
    "SmsOutbox",
    "SmsProvider",
    "SmsReceipt",
    "aliyun_percent_encode",
    "aliyun_signature",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmsReceipt:
    """The provider's acknowledgement: accepted for delivery, not yet delivered."""

    provider: str
    message_id: str | None
    request_id: str | None = None


@runtime_checkable
class SmsProvider(Protocol):
    """Sends a verification code to a mainland mobile number given in E.164 form."""

    async def send_code(self, phone_e164: str, code: str, *, template: str) -> SmsReceipt:
        """Send ``code`` with the message template named ``template``; raise ``SmsError`` on failure."""
        ...


# --- development provider --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    phone_e164: str = field(repr=False)
    code: str = field(repr=False)
    template: str
    message_id: str


class SmsOutbox:
    """Codes "sent" by :class:`ConsoleSmsProvider`, held in memory for developers and tests.

    This is deliberately an object, not a log: codes are secrets, and logs travel further
    than the process. ``wait_for_code`` lets a test wait on the event of a send instead of
    sleeping.
    """

    def __init__(self) -> None:
        self._last: dict[str, OutboxMessage] = {}
        self._sent: list[OutboxMessage] = []
        self._waiters: dict[str, list[asyncio.Future[str]]] = {}

    def record(self, message: OutboxMessage) -> None:
        self._last[message.phone_e164] = message
        self._sent.append(message)
        for waiter in self._waiters.pop(message.phone_e164, []):
            if not waiter.done():
                waiter.set_result(message.code)

    def last_code(self, phone_e164: str) -> str | None:
        message = self._last.get(phone_e164)
        return message.code if message else None

    @property
    def sent(self) -> tuple[OutboxMessage, ...]:
        return tuple(self._sent)

    def clear(self) -> None:
        self._last.clear()
        self._sent.clear()

    async def wait_for_code(self, phone_e164: str) -> str:
        """The last code sent to ``phone_e164``, waiting for the first one if none was sent yet."""
        code = self.last_code(phone_e164)
        if code is not None:
            return code
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(phone_e164, []).append(waiter)
        return await waiter


class ConsoleSmsProvider:
    """Development default: records the code in an :class:`SmsOutbox` and logs only the masked number."""

    name: Final = "console"

    def __init__(self, outbox: SmsOutbox | None = None) -> None:
        self.outbox = outbox if outbox is not None else SmsOutbox()

    async def send_code(self, phone_e164: str, code: str, *, template: str) -> SmsReceipt:
        message_id = uuid.uuid4().hex
        self.outbox.record(OutboxMessage(phone_e164=phone_e164, code=code, template=template, message_id=message_id))
        log.info(
            "SMS verification code (template %s) sent to %s through the console provider; "
            "read it from the in-process outbox",
            template,
            mask_mobile(phone_e164),
        )
        return SmsReceipt(provider=self.name, message_id=message_id)


# --- Alibaba Cloud SMS -----------------------------------------------------------------

ALIYUN_DEFAULT_ENDPOINT: Final = "https://dysmsapi.aliyuncs.com/"

# Alibaba's error codes grouped by what the operator must do about them.
_ALIYUN_MISCONFIGURED: Final = frozenset(
    {
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId.Inactive",
        "Forbidden.RAM",
        "isp.RAM_PERMISSION_DENY",
        "isv.ACCOUNT_NOT_EXISTS",
        "isv.ACCOUNT_ABNORMAL",
        "isv.SMS_SIGNATURE_ILLEGAL",
        "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.SMS_SIGN_ILLEGAL",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.INVALID_PARAMETERS",
        "isv.INVALID_JSON_PARAM",
        "isv.AMOUNT_NOT_ENOUGH",
        "isv.OUT_OF_SERVICE",
        "isv.PRODUCT_UN_SUBSCRIPT",
        "isv.PRODUCT_UNSUBSCRIBE",
        "SignatureNonceUsed",
        "InvalidTimeStamp.Expired",
    }
)
_ALIYUN_RECIPIENT: Final = frozenset(
    {
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.MOBILE_COUNT_OVER_LIMIT",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.DENY_IP_RANGE",
    }
)
_ALIYUN_THROTTLED: Final = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "Throttling.User", "Throttling"})
_ALIYUN_UNAVAILABLE: Final = frozenset({"isp.SYSTEM_ERROR", "isp.GATEWAY_ERROR", "ServiceUnavailable"})


def aliyun_percent_encode(value: str) -> str:
    """Alibaba Cloud's RPC percent-encoding: RFC 3986 unreserved characters kept, all else %XY of UTF-8.

    Space becomes ``%20`` (not ``+``), ``*`` becomes ``%2A``, ``~`` stays as it is.
    """
    return quote(value, safe="~")


def aliyun_string_to_sign(params: Mapping[str, str], method: str = "GET") -> str:
    """``METHOD&%2F&percentEncode(canonicalized query string)``, parameters sorted by name."""
    canonical = "&".join(f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}" for k, v in sorted(params.items()))
    return f"{method}&{aliyun_percent_encode('/')}&{aliyun_percent_encode(canonical)}"


def aliyun_signature(params: Mapping[str, str], access_key_secret: str, method: str = "GET") -> str:
    """Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)) — signature version 1.0."""
    key = (access_key_secret + "&").encode()
    digest = hmac.new(key, aliyun_string_to_sign(params, method).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class AliyunSmsProvider:
    """Alibaba Cloud SMS ``SendSms`` adapter.

    ``templates`` maps our template names (``"login"``, ``"bind_phone"`` …) to the
    TemplateCode approved in the Alibaba console; each template is expected to take the
    code as the variable ``code_variable`` (``${code}`` by default).
    """

    name: Final = "aliyun"

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        templates: Mapping[str, str],
        endpoint: str = ALIYUN_DEFAULT_ENDPOINT,
        region_id: str = "cn-hangzhou",
        timeout: float = 5.0,
        code_variable: str = "code",
        clock: Clock | None = None,
        client: httpx.AsyncClient | None = None,
        nonce: Callable[[], str] | None = None,
    ) -> None:
        self._access_key_id = access_key_id
        self._access_key_secret = access_key_secret
        self._sign_name = sign_name
        self._templates = dict(templates)
        self._endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self._region_id = region_id
        self._timeout = timeout
        self._code_variable = code_variable
        self._clock: Clock = clock or SystemClock()
        self._client = client
        self._nonce = nonce or (lambda: str(uuid.uuid4()))

    def __repr__(self) -> str:  # never show the secret
        return f"AliyunSmsProvider(endpoint={self._endpoint!r}, sign_name={self._sign_name!r})"

    def signed_params(self, phone_e164: str, code: str, *, template: str) -> dict[str, str]:
        """All query parameters of a SendSms call, ``Signature`` included."""
        template_code = self._templates.get(template)
        if template_code is None:
            raise SmsMisconfigured(
                "No Alibaba Cloud SMS template is configured for this message.",
                provider=self.name,
                template=template,
            )
        params = {
            "AccessKeyId": self._access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": _aliyun_phone(phone_e164),
            "RegionId": self._region_id,
            "SignName": self._sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self._nonce(),
            "SignatureVersion": "1.0",
            "TemplateCode": template_code,
            "TemplateParam": json.dumps({self._code_variable: code}, separators=(",", ":")),
            "Timestamp": self._clock.now().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = aliyun_signature(params, self._access_key_secret)
        return params

    async def send_code(self, phone_e164: str, code: str, *, template: str) -> SmsReceipt:
        params = self.signed_params(phone_e164, code, template=template)
        query = "&".join(f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}" for k, v in params.items())
        url = f"{self._endpoint}?{query}"
        try:
            if self._client is not None:
                response = await self._client.get(url, timeout=self._timeout)
            else:
                async with httpx.AsyncClient(timeout=self._timeout) as client:
                    response = await client.get(url)
        except httpx.TimeoutException:
            raise SmsUnavailable(
                "Alibaba Cloud SMS did not answer in time.", provider=self.name, provider_code="timeout"
            ) from None
        except httpx.HTTPError as exc:
            raise SmsUnavailable(
                "Alibaba Cloud SMS could not be reached.",
                provider=self.name,
                provider_code=type(exc).__name__,
            ) from None
        receipt = self._receipt(response)
        log.info(
            "SMS verification code (template %s) accepted by Alibaba Cloud for %s (request %s)",
            template,
            mask_mobile(phone_e164),
            receipt.request_id,
        )
        return receipt

    def _receipt(self, response: httpx.Response) -> SmsReceipt:
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            error_cls: type[SmsError] = SmsUnavailable if response.status_code >= 500 else SmsRejected
            raise error_cls(
                "Alibaba Cloud SMS answered with something that is not its JSON response.",
                provider=self.name,
                provider_code=f"http_{response.status_code}",
            )
        provider_code = str(body.get("Code", ""))
        request_id = body.get("RequestId")
        request_id = str(request_id) if request_id is not None else None
        if provider_code == "OK" and response.status_code == 200:
            biz_id = body.get("BizId")
            return SmsReceipt(
                provider=self.name,
                message_id=str(biz_id) if biz_id is not None else None,
                request_id=request_id,
            )
        error_cls, message = _classify_aliyun(provider_code, response.status_code)
        log.warning(
            "Alibaba Cloud SMS refused a message: code %s, HTTP %s, request %s",
            provider_code or "-",
            response.status_code,
            request_id,
        )
        raise error_cls(message, provider=self.name, provider_code=provider_code or None, request_id=request_id)


def _classify_aliyun(provider_code: str, status: int) -> tuple[type[SmsError], str]:
    if provider_code in _ALIYUN_MISCONFIGURED:
        return SmsMisconfigured, "Alibaba Cloud SMS refused our account, signature, sign name or template."
    if provider_code in _ALIYUN_RECIPIENT:
        return SmsRecipientRejected, "Alibaba Cloud SMS refused to send to this number."
    if provider_code in _ALIYUN_THROTTLED:
        return SmsThrottled, "Alibaba Cloud SMS flow control refused the message; try again later."
    if provider_code in _ALIYUN_UNAVAILABLE or status >= 500:
        return SmsUnavailable, "Alibaba Cloud SMS failed on its side; try again later."
    return SmsRejected, "Alibaba Cloud SMS refused the message."


def _aliyun_phone(phone_e164: str) -> str:
    """Mainland numbers go as 11 digits; others as country code + number without ``+`` (documented)."""
    if phone_e164.startswith("+86"):
        return phone_e164[3:]
    return phone_e164.lstrip("+")
