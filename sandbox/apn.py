"""A local, faithful fake of the Apple Push Notification service (HTTP/2, token auth).

Used by the tests and by ``herald sandbox apn``::

    sandbox = APNsSandbox()
    sandbox.add_team("TEAM123456", key_id="KEY1234567", public_key=key.public_key(),
                     bundle_ids=("com.example.app",))
    async with serve_h2(sandbox.handle) as url:          # h2c on loopback
        settings = Settings(apns_api_url=url)

``POST /3/device/{token}`` checks what APNs checks, in Apple's order and with Apple's
reasons: the method (405 ``MethodNotAllowed``) and path (404 ``BadPath``); the provider
token (403 ``MissingProviderToken``, ``InvalidProviderToken`` -- bad ``kid``/``iss`` or
ES256 signature --, ``ExpiredProviderToken`` after an hour, 429
``TooManyProviderTokenUpdates`` when a connection's token changes within 20 minutes);
the device token (400 ``BadDeviceToken``), ``apns-topic`` (``MissingTopic``,
``TopicDisallowed``), ``apns-push-type``, ``apns-priority``, ``apns-expiration``,
``apns-collapse-id``, ``apns-id`` and the payload (``PayloadEmpty``, 413
``PayloadTooLarge``); an unregistered device answers 410 ``Unregistered`` with a
timestamp. Success is 200 with an empty body and ``apns-id`` (the request's, or a new
UUID). Faults are injected per device token. ``GET /_sandbox/notifications`` lists what
was accepted.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec

from sandbox._base import FaultTerms, SandboxBase
from sandbox._h2 import H2Request, H2Response

__all__ = ["APNsFault", "APNsSandbox", "PushedNotification", "SandboxTeam", "new_device_token"]

_T = TypeVar("_T")
_PATH = re.compile(r"^/3/device/(?P<token>[^/?]*)$")
_HEX_TOKEN = re.compile(r"^(?:[0-9a-fA-F]{2}){32,100}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_PUSH_TYPES = frozenset(
    {
        "alert",
        "background",
        "controls",
        "location",
        "voip",
        "complication",
        "fileprovider",
        "mdm",
        "liveactivity",
        "pushtotalk",
        "widgets",
    }
)
#: Topic suffixes Apple uses for the non-alert push types of an app.
_TOPIC_SUFFIXES = ("", ".voip", ".complication", ".pushkit.fileprovider", ".push-type.liveactivity")
TOKEN_LIFETIME = 3600.0
TOKEN_UPDATE_INTERVAL = 20 * 60.0


def new_device_token() -> str:
    """A 32-byte device token, hex-encoded, as apps receive it."""
    return uuid.uuid4().hex + uuid.uuid4().hex


@dataclass(slots=True)
class SandboxTeam:
    team_id: str
    keys: dict[str, ec.EllipticCurvePublicKey]
    bundle_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PushedNotification:
    """A notification the fake accepted."""

    apns_id: str
    device_token: str
    topic: str
    push_type: str
    priority: int
    expiration: int | None
    collapse_id: str | None
    payload: dict[str, Any]
    team_id: str
    received_at: datetime


@dataclass(slots=True)
class APNsFault(FaultTerms):
    """An answer for one device token: ``reason`` with ``status`` after ``delay`` seconds
    (``math.inf``: never), or ``raw_body``; ``times`` limits how often."""

    status: int = 500
    reason: str | None = "InternalServerError"


class _Refusal(Exception):
    def __init__(self, status: int, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.extra = extra


@dataclass(slots=True)
class _ConnectionToken:
    token: str
    iat: float
    expired: bool = False


@dataclass(slots=True)
class _Tokens:
    by_connection: dict[tuple[int, str, str], _ConnectionToken] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    seen: list[str] = field(default_factory=list)


class APNsSandbox(SandboxBase[APNsFault]):
    """The fake APNs: teams and keys, device state, accepted notifications, faults."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        self.teams: dict[str, SandboxTeam] = {}
        self.notifications: list[PushedNotification] = []
        self.unregistered: dict[str, int] = {}
        self.refusals: list[str] = []
        self._tokens = _Tokens()

    # --- setup ----------------------------------------------------------------------

    def add_team(
        self,
        team_id: str,
        *,
        key_id: str,
        public_key: ec.EllipticCurvePublicKey,
        bundle_ids: tuple[str, ...] | list[str] = ("com.example.app",),
    ) -> SandboxTeam:
        team = self.teams.get(team_id)
        if team is None:
            team = self.teams[team_id] = SandboxTeam(team_id, {}, tuple(bundle_ids))
        team.keys[key_id] = public_key
        team.bundle_ids = tuple(dict.fromkeys((*team.bundle_ids, *bundle_ids)))
        return team

    def unregister(self, device_token: str, *, at_ms: int | None = None) -> None:
        """The app was removed: APNs answers 410 Unregistered from now on."""
        self.unregistered[device_token.lower()] = at_ms or int(self.clock() * 1000)

    def expire_provider_tokens(self) -> None:
        """Every provider token seen so far is answered with ExpiredProviderToken."""
        self._tokens.revoked.update(self._tokens.seen)

    @property
    def provider_tokens(self) -> list[str]:
        """Distinct provider tokens received, in order of first use."""
        return list(self._tokens.seen)

    def fail(
        self,
        device_token: str,
        status: int,
        reason: str,
        *,
        retry_after: float | None = None,
        times: int | None = None,
    ) -> APNsFault:
        fault = APNsFault(status, reason, retry_after=retry_after, times=times)
        return self.add_fault(device_token, fault)

    def hang(self, device_token: str, seconds: float = math.inf) -> APNsFault:
        fault = APNsFault(reason=None, delay=seconds)
        return self.add_fault(device_token, fault)

    def garble(
        self, device_token: str, status: int, body: bytes = b"<html>oops</html>"
    ) -> APNsFault:
        fault = APNsFault(status, None, raw_body=body)
        return self.add_fault(device_token, fault)

    # --- waiting (tests) --------------------------------------------------------------

    def notification(self, apns_id: str) -> PushedNotification | None:
        return next((n for n in self.notifications if n.apns_id == apns_id), None)

    # --- the API ----------------------------------------------------------------------

    async def handle(self, request: H2Request) -> H2Response:
        """Answer one HTTP/2 request (the handler :func:`serve_h2` runs)."""
        if request.path.startswith("/_sandbox/"):
            return self._control(request)
        try:
            return await self._push(request)
        except _Refusal as refusal:
            self.refusals.append(refusal.reason)
            self.notify()
            body = {"reason": refusal.reason, **refusal.extra}
            headers = [("apns-id", request.header("apns-id") or str(uuid.uuid4()))]
            return H2Response(refusal.status, headers, orjson.dumps(body))

    def _control(self, request: H2Request) -> H2Response:
        if request.method == "GET" and request.path == "/_sandbox/notifications":
            items = [
                {
                    "apnsId": n.apns_id,
                    "deviceToken": n.device_token,
                    "topic": n.topic,
                    "pushType": n.push_type,
                    "priority": n.priority,
                    "payload": n.payload,
                }
                for n in self.notifications
            ]
            return H2Response(
                200, [("content-type", "application/json")], orjson.dumps({"notifications": items})
            )
        return H2Response(404, [], orjson.dumps({"reason": "BadPath"}))

    def _team(self, request: H2Request) -> SandboxTeam:
        header = request.header("authorization")
        if not header:
            raise _Refusal(403, "MissingProviderToken")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Refusal(403, "MissingProviderToken")
        token = token.strip()
        try:
            head = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise _Refusal(403, "InvalidProviderToken") from exc
        team = self.teams.get(str(claims.get("iss")))
        key = team.keys.get(str(head.get("kid"))) if team is not None else None
        if team is None or key is None or head.get("alg") != "ES256":
            raise _Refusal(403, "InvalidProviderToken")
        try:
            jwt.decode(  # times are checked below, against the sandbox's clock
                token,
                key,
                algorithms=["ES256"],
                options={"require": ["iss", "iat"], "verify_iat": False, "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise _Refusal(403, "InvalidProviderToken") from exc
        iat = claims["iat"]
        if not isinstance(iat, int | float) or iat > self.clock() + 60:
            raise _Refusal(403, "InvalidProviderToken")
        if token not in self._tokens.seen:
            self._tokens.seen.append(token)
        slot = (request.connection_id, team.team_id, str(head["kid"]))
        current = self._tokens.by_connection.get(slot)
        if token in self._tokens.revoked or self.clock() - iat > TOKEN_LIFETIME:
            if current is not None and current.token == token:
                current.expired = True
            raise _Refusal(403, "ExpiredProviderToken")
        if current is None or current.expired:
            self._tokens.by_connection[slot] = _ConnectionToken(token, float(iat))
        elif current.token != token:
            if iat - current.iat < TOKEN_UPDATE_INTERVAL:
                raise _Refusal(429, "TooManyProviderTokenUpdates")
            self._tokens.by_connection[slot] = _ConnectionToken(token, float(iat))
        return team

    async def _push(self, request: H2Request) -> H2Response:
        if request.method != "POST":
            raise _Refusal(405, "MethodNotAllowed")
        match = _PATH.match(request.path)
        if match is None:
            raise _Refusal(404, "BadPath")
        team = self._team(request)
        device = match["token"]
        if not device:
            raise _Refusal(400, "MissingDeviceToken")
        if not _HEX_TOKEN.match(device):
            raise _Refusal(400, "BadDeviceToken")
        device = device.lower()
        names = [k for k, _ in request.headers]
        if any(names.count(n) > 1 for n in names if n.startswith("apns-")):
            raise _Refusal(400, "DuplicateHeaders")
        topic = request.header("apns-topic")
        if not topic:
            raise _Refusal(400, "MissingTopic")
        if not any(topic == b + s for b in team.bundle_ids for s in _TOPIC_SUFFIXES):
            raise _Refusal(400, "TopicDisallowed")
        push_type = request.header("apns-push-type") or "alert"
        if push_type not in _PUSH_TYPES:
            raise _Refusal(400, "InvalidPushType")
        priority_raw = request.header("apns-priority") or "10"
        if priority_raw not in ("10", "5", "1"):
            raise _Refusal(400, "BadPriority")
        expiration_raw = request.header("apns-expiration")
        if expiration_raw is not None and not expiration_raw.isdigit():
            raise _Refusal(400, "BadExpirationDate")
        collapse_id = request.header("apns-collapse-id")
        if collapse_id is not None and len(collapse_id.encode()) > 64:
            raise _Refusal(400, "BadCollapseId")
        apns_id = request.header("apns-id")
        if apns_id is not None and not _UUID.match(apns_id):
            raise _Refusal(400, "BadMessageId")
        if not request.body:
            raise _Refusal(400, "PayloadEmpty")
        if len(request.body) > (5120 if push_type == "voip" else 4096):
            raise _Refusal(413, "PayloadTooLarge")
        try:
            payload = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):  # Apple documents no reason for this: the closest
            raise _Refusal(400, "PayloadEmpty")
        if device in self.unregistered:
            raise _Refusal(410, "Unregistered", timestamp=self.unregistered[device])
        faulted = await self._apply_fault(device, apns_id)
        if faulted is not None:
            return faulted
        apns_id = (apns_id or str(uuid.uuid4())).lower()
        self.notifications.append(
            PushedNotification(
                apns_id=apns_id,
                device_token=device,
                topic=topic,
                push_type=push_type,
                priority=int(priority_raw),
                expiration=int(expiration_raw) if expiration_raw is not None else None,
                collapse_id=collapse_id,
                payload=payload,
                team_id=team.team_id,
                received_at=datetime.now(UTC),
            )
        )
        self.notify()
        return H2Response(200, [("apns-id", apns_id)])

    async def _apply_fault(self, device: str, apns_id: str | None) -> H2Response | None:
        fault = self.take_fault(device)
        if fault is None:
            return None
        if await self.hold(fault):
            raise _Refusal(503, "Shutdown")
        headers = [("apns-id", apns_id or str(uuid.uuid4()))]
        if fault.retry_after is not None:
            headers.append(("retry-after", f"{fault.retry_after:g}"))
        if fault.raw_body is not None:
            return H2Response(fault.status, headers, fault.raw_body)
        if fault.reason is None:
            return None
        return H2Response(fault.status, headers, orjson.dumps({"reason": fault.reason}))
