"""What every fake shares: waiting for changes, faults, background work, webhooks, control.

:class:`SandboxBase` gives a fake

* ``notify()`` / ``wait_for(predicate)`` -- tests wait for what the fake saw, never sleep;
* a fault book keyed by recipient (``add_fault``, ``take_fault``, ``hold`` for delays and
  hangs, released when the fake closes, ``clear_faults``);
* ``spawn`` for background work (status webhooks after a delay), ``session()`` for the
  HTTP client that delivers them, ``post_webhook`` to deliver one, and ``close()``;
* ``serve_lifecycle(app)``: reopen on startup, close on shutdown.

The control endpoints' helpers (:func:`json_response`, :func:`problem`,
:func:`parse_body`) answer JSON the same way in every fake.

Nothing here imports Herald's product code except the public wire base model: a fake
stays an oracle of the service it stands for.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import aiohttp
import orjson
from aiohttp import web
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

__all__ = [
    "ChangeNotifier",
    "ControlModel",
    "FaultBody",
    "FaultLike",
    "FaultTerms",
    "SandboxBase",
    "delivery_answer",
    "email_address",
    "fault_headers",
    "json_response",
    "parse_body",
    "problem",
    "raw_fault_response",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_M = TypeVar("_M", bound=BaseModel)
_R = TypeVar("_R")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FaultLike(Protocol):
    """A fault: how long to hold the request first, and for how many requests."""

    delay: float | None
    times: int | None


F = TypeVar("F", bound=FaultLike)


@dataclass(slots=True, kw_only=True)
class FaultTerms:
    """What the fault records of the API fakes share, after their own error fields:
    ``retry_after`` (sent as ``Retry-After``), ``delay`` seconds to hold the request first
    (``math.inf``: until the fake closes), ``raw_body`` to answer as is, and ``times`` (how
    many requests it applies to; ``None``: all)."""

    retry_after: float | None = None
    delay: float | None = None
    raw_body: bytes | None = None
    times: int | None = None


class ControlModel(BaseModel):
    """A control endpoint's JSON body: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class FaultBody(ControlModel):
    """``POST /_sandbox/faults``: what every fake's fault takes (fakes add their ``code``).

    ``hang`` without ``delaySeconds`` holds the requests forever (until the fake closes).
    """

    to: str = Field(min_length=1)
    http_status: int = Field(400, ge=100, le=599)
    message: str | None = None
    retry_after: float | None = Field(None, ge=0)
    delay_seconds: float | None = Field(None, ge=0, description="null and hang=true: forever")
    hang: bool = False
    raw_body: str | None = None
    times: int | None = Field(None, ge=1)

    def record(self, make: Callable[..., _R], **fields: Any) -> _R:
        """The fake's fault record (``make``) with what every body says, and ``fields``."""
        raw = self.raw_body.encode() if self.raw_body is not None else None
        delay = math.inf if self.hang and self.delay_seconds is None else self.delay_seconds
        return make(
            http_status=self.http_status,
            message=self.message,
            retry_after=self.retry_after,
            delay=delay,
            raw_body=raw,
            times=self.times,
            **fields,
        )


_B = TypeVar("_B", bound=FaultBody)


def email_address(value: str) -> str:
    """An address as the email services accept it (ASCII form); ``ValueError`` otherwise.

    Strict like the services: a dot in the domain, no SMTPUTF8 local part, no DNS check.
    """
    try:
        checked = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address ({exc})") from None
    return checked.ascii_email or checked.normalized


def json_response(
    body: Any,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    *,
    charset: str | None = None,
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        content_type="application/json",
        charset=charset,
        headers=dict(headers or {}),
    )


def problem(status: int, message: str) -> web.Response:
    """A control endpoint's error: ``{"error": message}``."""
    return json_response({"error": message}, status)


async def parse_body(request: web.Request, model: type[_M]) -> _M:
    """The request's JSON body as ``model``; 400 with pydantic's details otherwise."""
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as exc:
        details = {"error": "invalid body", "details": exc.errors(include_url=False)}
        raise web.HTTPBadRequest(
            text=orjson.dumps(details, default=str).decode(), content_type="application/json"
        ) from exc


def fault_headers(fault: FaultTerms) -> dict[str, str]:
    """The ``Retry-After`` header of a fault that sets one (seconds, as the services write it)."""
    return {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}


def raw_fault_response(fault: FaultTerms, status: int) -> web.Response | None:
    """The fault's ``raw_body`` as is with ``status`` (and its ``Retry-After``); ``None``
    when the fault has no raw body."""
    if fault.raw_body is None:
        return None
    return web.Response(body=fault.raw_body, status=status, headers=fault_headers(fault))


async def delivery_answer(
    deliver: Coroutine[Any, Any, int], field: str, what: str = "webhook"
) -> web.Response:
    """A control endpoint's answer to "deliver this status now": the receiver's status
    under ``field``, 404 for an unknown message, 502 when the receiver cannot be reached."""
    try:
        status = await deliver
    except LookupError as exc:
        return problem(404, str(exc))
    except (aiohttp.ClientError, TimeoutError) as exc:
        return problem(502, f"{what} receiver unreachable: {type(exc).__name__}")
    return json_response({field: status})


class ChangeNotifier:
    """``notify()`` / ``wait_for(predicate)``: tests wait for what a fake saw, never sleep."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def notify(self) -> None:
        """Wake every ``wait_for``: something the fake records has changed."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for(self, predicate: Callable[[], _T]) -> _T:
        """Wait until ``predicate()`` is truthy (re-checked on every change); return it.

        Waits without limit: bound it with ``asyncio.timeout``.
        """
        while True:
            changed = self._changed
            result = predicate()
            if result:
                return result
            await changed.wait()


class SandboxBase(ChangeNotifier, Generic[F]):
    """Change notification, faults, background tasks and webhook delivery of one fake."""

    def __init__(self) -> None:
        super().__init__()
        self.faults: dict[str, F] = {}
        #: Requests currently held back by a delay or hang fault.
        self.held = 0
        self._closing = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._session: aiohttp.ClientSession | None = None

    # --- faults -----------------------------------------------------------------------

    def fault_key(self, recipient: str) -> str:
        """How recipients are compared (default: case-insensitive)."""
        return recipient.strip().lower()

    def add_fault(self, to: str, fault: F) -> F:
        """Apply ``fault`` to requests for ``to`` (``*``: everyone)."""
        self.faults[to if to == "*" else self.fault_key(to)] = fault
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def take_fault(self, *recipients: str) -> F | None:
        """The fault for the first of ``recipients`` that has one (else ``*``), counting a use."""
        keys = [self.fault_key(r) for r in recipients]
        key = next((k for k in keys if k in self.faults), "*" if "*" in self.faults else None)
        if key is None:
            return None
        fault = self.faults[key]
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                self.faults.pop(key, None)
        return fault

    async def hold(self, fault: FaultLike) -> bool:
        """Wait out ``fault.delay``; ``True`` when the fake is closing instead."""
        if not fault.delay:
            return False
        timeout = None if math.isinf(fault.delay) else fault.delay
        self.held += 1
        self.notify()
        try:
            await asyncio.wait_for(self._closing.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self.held -= 1
            self.notify()

    # --- background work and webhooks -------------------------------------------------

    def session(self) -> aiohttp.ClientSession:
        """The HTTP client that delivers this fake's webhooks."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._session

    async def post_webhook(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST ``body`` to ``url``; the receiver's HTTP status."""
        async with self.session().post(url, data=body, headers=dict(headers)) as response:
            await response.read()
            return response.status

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def schedule(
        self, steps: Sequence[Callable[[], Awaitable[Any]]], *, delay: float, what: str
    ) -> None:
        """Run ``steps`` one after another in the background, ``delay`` seconds apart; the
        first that cannot deliver its webhook ends the run (logged)."""

        async def run() -> None:
            for step in steps:
                await asyncio.sleep(delay)
                try:
                    await step()
                except (aiohttp.ClientError, TimeoutError, LookupError) as exc:
                    logger.warning(
                        "sandbox webhook not delivered", extra={"what": what, "error": repr(exc)}
                    )
                    return

        self.spawn(run())

    def reopen(self) -> None:
        self._closing = asyncio.Event()

    async def close(self) -> None:
        """Stop background work, release held requests and close the HTTP client."""
        self._closing.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def clear_messages(self) -> None:
        """Forget what the fake recorded (fakes extend it with their own records)."""

    def add_clearing_routes(self, app: web.Application) -> None:
        """``DELETE /_sandbox/messages`` and ``DELETE /_sandbox/faults`` (204)."""

        async def clear_messages(_: web.Request) -> web.Response:
            self.clear_messages()
            return web.Response(status=204)

        async def clear_faults(_: web.Request) -> web.Response:
            self.clear_faults()
            return web.Response(status=204)

        app.router.add_delete("/_sandbox/messages", clear_messages)
        app.router.add_delete("/_sandbox/faults", clear_faults)

    def add_fault_route(
        self, app: web.Application, model: type[_B], fault: Callable[[_B], F]
    ) -> None:
        """``POST /_sandbox/faults``: a ``model`` body, whose ``fault(body)`` is added for
        ``body.to``; answers ``{"to"}`` (201)."""

        async def add_fault(request: web.Request) -> web.Response:
            body = await parse_body(request, model)
            self.add_fault(body.to, fault(body))
            return json_response({"to": body.to}, 201)

        app.router.add_post("/_sandbox/faults", add_fault)

    def add_account_routes(
        self,
        app: web.Application,
        messages: Handler,
        accounts: Handler,
        add_account: Handler,
        post_status: Handler,
        deliveries: tuple[str, Handler],
    ) -> None:
        """The control routes of a fake with accounts and status webhooks (besides faults):
        ``GET /_sandbox/messages``, the clearing routes, ``GET|POST /_sandbox/accounts``,
        ``POST /_sandbox/statuses`` and ``GET /_sandbox/<deliveries[0]>``."""
        app.router.add_get("/_sandbox/messages", messages)
        self.add_clearing_routes(app)
        app.router.add_get("/_sandbox/accounts", accounts)
        app.router.add_post("/_sandbox/accounts", add_account)
        app.router.add_post("/_sandbox/statuses", post_status)
        app.router.add_get(f"/_sandbox/{deliveries[0]}", deliveries[1])

    def serve_lifecycle(self, app: web.Application) -> web.Application:
        """Reopen when ``app`` starts, close when it stops; returns ``app``."""

        async def on_startup(_: web.Application) -> None:
            self.reopen()

        async def on_shutdown(_: web.Application) -> None:
            await self.close()

        app.on_startup.append(on_startup)
        app.on_shutdown.append(on_shutdown)
        return app
