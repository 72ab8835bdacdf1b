"""A local, faithful fake of Firebase Cloud Messaging HTTP v1 and Google's token endpoint.

Used by the tests and by ``herald sandbox firebase``::

    sandbox = FirebaseSandbox()
    account = sandbox.add_service_account("demo-project")
    async with serve_app(sandbox.app) as url:
        info = account.info(token_uri=f"{url}/token")      # the service account JSON
        settings = Settings(fcm_api_url=url)

``POST /token`` is the OAuth 2.0 JWT bearer grant: the assertion's RS256 signature is
verified with the service account's public key, and an access token is issued for
``expires_in`` seconds (by the sandbox's ``clock``). ``POST /v1/projects/{project}/
messages:send`` checks the bearer token (401 ``UNAUTHENTICATED``), its project and scope
(403 ``PERMISSION_DENIED``), the message (400 ``INVALID_ARGUMENT``, with the documented
details) and the registration token (400 invalid token, 404 ``UNREGISTERED``, 403
``SENDER_ID_MISMATCH``). Faults are injected per registration token. Control endpoints:
``GET /_sandbox/messages``, ``POST /_sandbox/unregister`` ``{"token": ...}``,
``POST /_sandbox/faults`` ``{"token", "errorCode", "retryAfter", "times"}``.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox._base import FaultTerms, SandboxBase, fault_headers, raw_fault_response
from sandbox._fcm import (
    FCM_CODES,
    JWT_BEARER,
    FcmFailure,
    OAuthFailure,
    check_assertion,
    check_message,
    google_error,
    json_response,
    new_access_token,
    new_message_name,
    valid_registration_token,
)

__all__ = [
    "FcmFault",
    "FcmMessage",
    "FirebaseSandbox",
    "IssuedToken",
    "SandboxServiceAccount",
    "new_registration_token",
]

_T = TypeVar("_T")
FCM_SCOPES = (
    "https://www.googleapis.com/auth/firebase.messaging",
    "https://www.googleapis.com/auth/cloud-platform",
)
_UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


def new_registration_token() -> str:
    """A registration token of FCM's shape (``<instance id>:APA91b...``)."""
    return f"{secrets.token_urlsafe(16)[:22]}:APA91b{secrets.token_urlsafe(105)}"


@dataclass(slots=True)
class SandboxServiceAccount:
    client_email: str
    project_id: str
    private_key_pem: str
    private_key_id: str

    def info(self, *, token_uri: str) -> dict[str, str]:
        """The service account key file (JSON object) Google would let you download."""
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem,
            "client_email": self.client_email,
            "client_id": str(secrets.randbelow(10**20)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        }


@dataclass(frozen=True, slots=True)
class IssuedToken:
    value: str
    client_email: str
    project_id: str
    scope: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class FcmMessage:
    """A message the fake accepted: the ``message`` object exactly as received."""

    name: str
    project_id: str
    token: str | None
    message: dict[str, Any]
    received_at: datetime


@dataclass(slots=True)
class FcmFault(FaultTerms):
    """An answer for one registration token instead of accepting it.

    ``delay`` seconds pass first (``math.inf``: never answer); then ``raw_body`` is
    answered as is with ``http_status``, or else the FCM error ``error_code``.
    """

    error_code: str | None = "INTERNAL"
    http_status: int | None = None
    message: str | None = None


@dataclass(slots=True)
class _State:
    accounts: dict[str, SandboxServiceAccount] = field(default_factory=dict)
    public_keys: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)
    tokens: dict[str, IssuedToken] = field(default_factory=dict)
    token_owners: dict[str, str] = field(default_factory=dict)  # registration token -> project


class FirebaseSandbox(SandboxBase[FcmFault]):
    """The fake FCM: service accounts, issued tokens, accepted messages, faults."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, token_lifetime: int = 3599
    ) -> None:
        super().__init__()
        self.clock = clock
        self.token_lifetime = token_lifetime
        self._state = _State()
        self.messages: list[FcmMessage] = []
        self.unregistered: set[str] = set()
        #: Access tokens issued so far (successful grants).
        self.grants = 0
        #: Send requests refused with 401 so far.
        self.refused = 0
        self.app = self._build_app()

    # --- setup ----------------------------------------------------------------------

    def add_service_account(
        self,
        project_id: str,
        *,
        client_email: str | None = None,
        private_key: rsa.RSAPrivateKey | None = None,
    ) -> SandboxServiceAccount:
        """Create (or replace) a service account of ``project_id``; its key is generated."""
        key = private_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        email = (
            client_email
            or f"firebase-adminsdk-{secrets.token_hex(3)}@{project_id}.iam.gserviceaccount.com"
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        account = SandboxServiceAccount(email, project_id, pem, secrets.token_hex(20))
        self._state.accounts[email] = account
        self._state.public_keys[email] = key.public_key()
        return account

    def revoke_key(self, client_email: str) -> None:
        """Delete the account's key: its assertions no longer verify."""
        self._state.public_keys.pop(client_email, None)

    def register_token(self, token: str, project_id: str) -> None:
        """Tie a registration token to a project (others get SENDER_ID_MISMATCH)."""
        self._state.token_owners[token] = project_id

    def unregister(self, token: str) -> None:
        self.unregistered.add(token)

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far invalid (FCM answers 401)."""
        self._state.tokens.clear()

    def fail(
        self,
        token: str,
        error_code: str,
        *,
        retry_after: float | None = None,
        times: int | None = None,
    ) -> FcmFault:
        return self.add_fault(token, FcmFault(error_code, retry_after=retry_after, times=times))

    def hang(self, token: str, seconds: float = math.inf) -> FcmFault:
        return self.add_fault(token, FcmFault(None, delay=seconds))

    def garble(self, token: str, http_status: int, body: bytes = b"<html>oops</html>") -> FcmFault:
        return self.add_fault(token, FcmFault(None, http_status=http_status, raw_body=body))

    def fault_key(self, recipient: str) -> str:
        return recipient  # registration tokens are case-sensitive

    # --- waiting (tests) --------------------------------------------------------------

    def message(self, name: str) -> FcmMessage | None:
        return next((m for m in self.messages if m.name == name), None)

    # --- the API ----------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1/projects/{project}/messages:send", self._send)
        app.router.add_get("/_sandbox/messages", self._list_messages)
        app.router.add_post("/_sandbox/unregister", self._unregister)
        app.router.add_post("/_sandbox/faults", self._add_fault)

        return self.serve_lifecycle(app)

    async def _token(self, request: web.Request) -> web.Response:
        try:
            if request.content_type != "application/x-www-form-urlencoded":
                raise OAuthFailure("invalid_request", "Bad Request")
            form = await request.post()
            grant_type = form.get("grant_type")
            if grant_type != JWT_BEARER:
                shown = grant_type if isinstance(grant_type, str) else ""
                raise OAuthFailure("unsupported_grant_type", f"Invalid grant_type: {shown}")
            assertion = form.get("assertion")
            if not isinstance(assertion, str) or not assertion:
                raise OAuthFailure("invalid_request", "Missing required parameter: assertion")
            email, scope = check_assertion(assertion, self._state.public_keys)
        except OAuthFailure as failure:
            return failure.response()
        account = self._state.accounts[email]
        token = IssuedToken(
            new_access_token(),
            email,
            account.project_id,
            scope,
            self.clock() + self.token_lifetime,
        )
        self._state.tokens[token.value] = token
        self.grants += 1
        self.notify()
        return json_response(
            {"access_token": token.value, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    def _authorize(self, request: web.Request, project: str) -> None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = self._state.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None or token.expires_at <= self.clock():
            self.refused += 1
            self.notify()
            raise FcmFailure(
                401,
                _UNAUTHENTICATED,
                headers={
                    "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
                },
            )
        if not any(scope in token.scope.split() for scope in FCM_SCOPES):
            raise FcmFailure(403, "Request had insufficient authentication scopes.")
        if token.project_id != project:
            raise FcmFailure(
                403,
                f"Permission 'cloudmessaging.messages.create' denied on resource "
                f"'//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not exist).",
            )

    def _check_token(self, token: str, project: str) -> None:
        if not valid_registration_token(token):
            raise FcmFailure(
                400,
                "The registration token is not a valid FCM registration token",
                fcm_code="INVALID_ARGUMENT",
            )
        if token in self.unregistered:
            raise FcmFailure(404, "Requested entity was not found.", fcm_code="UNREGISTERED")
        owner = self._state.token_owners.get(token)
        if owner is not None and owner != project:
            raise FcmFailure(403, "SenderId mismatch", fcm_code="SENDER_ID_MISMATCH")

    async def _apply_fault(self, token: str | None) -> web.Response | None:
        fault = self.take_fault(token or "")
        if fault is None:
            return None
        if await self.hold(fault):
            return json_response(google_error(503, "The service is currently unavailable."), 503)
        if fault.raw_body is not None:
            return raw_fault_response(fault, fault.http_status or 500)
        if fault.error_code is None:
            return None
        status, message = FCM_CODES.get(fault.error_code, (500, "Internal error encountered."))
        body = google_error(
            fault.http_status or status, fault.message or message, fcm_code=fault.error_code
        )
        return json_response(body, fault.http_status or status, fault_headers(fault))

    async def _send(self, request: web.Request) -> web.Response:
        project = request.match_info["project"]
        try:
            self._authorize(request, project)
            try:
                body = orjson.loads(await request.read())
            except orjson.JSONDecodeError as exc:
                raise FcmFailure(400, "Invalid JSON payload received. Unexpected token.") from exc
            message, token, validate_only = check_message(body)
            if token is not None:
                self._check_token(token, project)
        except FcmFailure as failure:
            return failure.response()
        faulted = await self._apply_fault(token)
        if faulted is not None:
            return faulted
        if validate_only:
            return json_response({"name": f"projects/{project}/messages/fake_message_id"})
        name = new_message_name(project)
        self.messages.append(FcmMessage(name, project, token, message, datetime.now(UTC)))
        self.notify()
        return json_response({"name": name})

    # --- control ----------------------------------------------------------------------

    async def _list_messages(self, _: web.Request) -> web.Response:
        items = [
            {"name": m.name, "projectId": m.project_id, "token": m.token, "message": m.message}
            for m in self.messages
        ]
        return json_response({"messages": items})

    async def _unregister(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        token = body.get("token")
        if not isinstance(token, str) or not token:
            return json_response({"error": "token is required"}, 400)
        self.unregister(token)
        return web.Response(status=204)

    async def _add_fault(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        if not isinstance(body.get("token"), str):
            return json_response({"error": "token is required"}, 400)
        code = body.get("errorCode", "INTERNAL")
        if code not in FCM_CODES:
            return json_response({"error": f"errorCode must be one of {sorted(FCM_CODES)}"}, 400)
        retry_after = body.get("retryAfter")
        times = body.get("times")
        self.fail(
            body["token"],
            code,
            retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
            times=times if isinstance(times, int) and times > 0 else None,
        )
        return web.Response(status=201)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError:
        body = None
    return body if isinstance(body, dict) else {}
