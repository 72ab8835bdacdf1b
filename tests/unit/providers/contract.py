"""The contract every provider honours, run against that provider's local fake service.

A provider's test module subclasses :class:`ProviderContract` (naming the subclass
``Test...`` so that pytest collects it), sets ``provider_class`` and implements
``open_harness``: an async context manager yielding a :class:`ContractHarness` bound to
a running fake. The tests below then run for that provider:

* one happy path per declared content type (what the fake received, the returned id);
* refused credentials -> :class:`InvalidCredentials`;
* a retryable fault -> :class:`RetryableError`, a permanent one -> :class:`PermanentError`;
* no answer within ``provider_timeout_seconds`` -> :class:`ProviderTimeout`;
* a service that cannot be reached -> :class:`RetryableError`;
* an unreadable response body -> a :class:`ProviderError` (never anything else);
* an invalid recipient -> :class:`InvalidRequest` from ``validate``.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, ClassVar, Self, TypeVar

import httpx
import pytest

from providers import (
    InvalidCredentials,
    InvalidRequest,
    PermanentError,
    Provider,
    ProviderError,
    ProviderTimeout,
    RetryableError,
    SendResult,
)
from providers.registry import REGISTRY
from sandbox import serve_app
from schemas.notification import NotificationRequest
from schemas.settings import Settings
from tests.helpers import make_settings
from tests.unit.providers.harness import unreachable_url

__all__ = [
    "CONTRACT_TIMEOUT_SECONDS",
    "ContractHarness",
    "ProviderContract",
    "contract_tests",
    "harness_fixture",
]

#: ``provider_timeout_seconds`` the timeout test runs with.
CONTRACT_TIMEOUT_SECONDS = 0.3


class ContractHarness(abc.ABC):
    """One provider wired to its running fake service."""

    @abc.abstractmethod
    def provider(
        self, *, bad_credentials: bool = False, timeout_seconds: float | None = None
    ) -> Provider[Any]:
        """A provider against the fake (with credentials the fake refuses, if asked)."""

    @abc.abstractmethod
    def unreachable_provider(self) -> Provider[Any]:
        """A provider pointed at an address where nothing listens."""

    @abc.abstractmethod
    def request(self, content_type: str) -> NotificationRequest:
        """A valid request carrying ``content_type`` (one of ``info.content_types``)."""

    @abc.abstractmethod
    def invalid_recipient_request(self) -> NotificationRequest:
        """A request whose recipient this provider cannot address."""

    @abc.abstractmethod
    async def assert_delivered(
        self, content_type: str, request: NotificationRequest, result: SendResult
    ) -> None:
        """Assert the fake received ``request`` as the service expects, under ``result``'s id."""

    @abc.abstractmethod
    def inject_retryable_fault(self, request: NotificationRequest) -> None: ...

    @abc.abstractmethod
    def inject_permanent_fault(self, request: NotificationRequest) -> None: ...

    @abc.abstractmethod
    def inject_hang(self, request: NotificationRequest) -> None:
        """Make the fake never answer requests for this request's recipient."""

    @abc.abstractmethod
    def inject_garbage(self, request: NotificationRequest, http_status: int) -> None:
        """Make the fake answer ``http_status`` with a body that is not the service's."""


class FakeServiceHarness(ContractHarness):
    """A harness over one of ``sandbox/``'s fakes, served at ``url`` and reached with ``http``.

    Hangs and garbage are injected for :meth:`fault_target`, the request's recipient as
    the fake keys its faults. :meth:`settings` point the provider at the fake through
    ``url_setting``; :meth:`unreachable_settings` at an address where nothing listens.
    """

    #: The setting naming the service's URL (``whatsapp_business_api_url``, ...).
    url_setting: ClassVar[str]

    def __init__(self, sandbox: Any, http: httpx.AsyncClient, url: str) -> None:
        self.sandbox = sandbox
        self.http = http
        self.url = url

    @classmethod
    @asynccontextmanager
    async def serving(cls, sandbox: Any, *args: Any) -> AsyncIterator[Self]:
        """``sandbox`` served on a loopback port, and a harness of this class over it."""
        async with serve_app(sandbox.app) as url, httpx.AsyncClient() as http:
            yield cls(sandbox, http, url, *args)

    def recorded(self, result: SendResult, id_name: str) -> Any:
        """What the fake recorded under the id ``result`` carries (``id_name``: what the
        service calls that id); the fake must have recorded it."""
        message = self.sandbox.message(result.provider_message_id)
        assert message is not None, f"the fake did not record the returned {id_name}"
        return message

    def service_url(self, base: str) -> str:
        """The ``url_setting`` value for a service served at ``base``."""
        return base

    def settings(self, timeout_seconds: float | None = None, **overrides: Any) -> Settings:
        """Settings pointing the provider at the fake, ``provider_timeout_seconds`` 5 s
        unless given (``overrides`` win)."""
        values: dict[str, Any] = {
            self.url_setting: self.service_url(self.url),
            "provider_timeout_seconds": timeout_seconds or 5.0,
        }
        return make_settings(**{**values, **overrides})

    def unreachable_settings(self) -> Settings:
        """Settings pointing the provider where nothing listens, with a 2 s timeout."""
        return self.settings(2.0, **{self.url_setting: self.service_url(unreachable_url())})

    @abc.abstractmethod
    def fault_target(self, request: NotificationRequest) -> str:
        """The key (address, number, device token) the fake's faults for ``request`` use."""

    def inject_hang(self, request: NotificationRequest) -> None:
        self.sandbox.hang(self.fault_target(request))

    def inject_garbage(self, request: NotificationRequest, http_status: int) -> None:
        self.sandbox.garble(self.fault_target(request), http_status=http_status)


H = TypeVar("H", bound=ContractHarness)


def harness_fixture(open_harness: Callable[[], AbstractAsyncContextManager[H]]) -> Any:
    """A module's ``env`` fixture: a harness over a fake ``open_harness`` starts per test
    (``env = harness_fixture(running_sandbox)``), for the tests beyond the contract."""

    @pytest.fixture
    async def env() -> AsyncIterator[H]:
        async with open_harness() as harness:
            yield harness

    return env


class ProviderContract(abc.ABC):
    """Base of a provider's contract tests (pytest style; subclasses are collected)."""

    provider_class: ClassVar[type[Provider[Any]]]

    @abc.abstractmethod
    def open_harness(self) -> AbstractAsyncContextManager[ContractHarness]:
        """Start the fake service and yield a harness bound to it."""

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "content_type" in metafunc.fixturenames:
            metafunc.parametrize("content_type", self.provider_class.info.content_types)

    @pytest.fixture
    async def harness(self) -> AsyncIterator[ContractHarness]:
        async with self.open_harness() as harness:
            yield harness

    # --- declaration ----------------------------------------------------------------

    def test_is_registered_and_declared(self) -> None:
        cls = self.provider_class
        assert REGISTRY.get(cls.name) is cls
        assert cls.display_name
        assert cls.info.content_types
        assert cls.required_credentials(), "a provider without credentials is suspicious"
        for field in cls.index_fields:
            assert field in cls.credentials_model.model_fields

    # --- sending --------------------------------------------------------------------

    async def test_sends_each_content_type(
        self, harness: ContractHarness, content_type: str
    ) -> None:
        provider = harness.provider()
        request = harness.request(content_type)
        provider.validate(request)
        result = await provider.send(request)
        assert isinstance(result, SendResult)
        assert result.provider_message_id
        await harness.assert_delivered(content_type, request, result)

    async def test_message_ids_are_unique(self, harness: ContractHarness) -> None:
        provider = harness.provider()
        content_type = self.provider_class.info.content_types[0]
        first = await provider.send(harness.request(content_type))
        second = await provider.send(harness.request(content_type))
        assert first.provider_message_id != second.provider_message_id

    def test_validate_rejects_invalid_recipient(self, harness: ContractHarness) -> None:
        with pytest.raises(InvalidRequest) as caught:
            harness.provider().validate(harness.invalid_recipient_request())
        assert caught.value.code == "invalid_recipient"

    # --- failures -------------------------------------------------------------------

    async def test_refused_credentials_are_invalid_credentials(
        self, harness: ContractHarness
    ) -> None:
        provider = harness.provider(bad_credentials=True)
        content_type = self.provider_class.info.content_types[0]
        with pytest.raises(InvalidCredentials) as caught:
            await provider.send(harness.request(content_type))
        assert not caught.value.retryable
        assert isinstance(caught.value, PermanentError)

    async def test_retryable_fault_is_retryable(self, harness: ContractHarness) -> None:
        request = harness.request(self.provider_class.info.content_types[0])
        harness.inject_retryable_fault(request)
        with pytest.raises(RetryableError) as caught:
            await harness.provider().send(request)
        assert caught.value.retryable
        assert caught.value.code

    async def test_permanent_fault_is_permanent(self, harness: ContractHarness) -> None:
        request = harness.request(self.provider_class.info.content_types[0])
        harness.inject_permanent_fault(request)
        with pytest.raises(PermanentError) as caught:
            await harness.provider().send(request)
        assert not caught.value.retryable
        assert not isinstance(caught.value, InvalidCredentials)

    async def test_no_answer_is_a_timeout(self, harness: ContractHarness) -> None:
        request = harness.request(self.provider_class.info.content_types[0])
        harness.inject_hang(request)
        provider = harness.provider(timeout_seconds=CONTRACT_TIMEOUT_SECONDS)
        with pytest.raises(ProviderTimeout) as caught:
            await provider.send(request)
        assert caught.value.code == "provider_timeout"
        assert caught.value.retryable

    async def test_unreachable_service_is_retryable(self, harness: ContractHarness) -> None:
        request = harness.request(self.provider_class.info.content_types[0])
        with pytest.raises(RetryableError) as caught:
            await harness.unreachable_provider().send(request)
        assert caught.value.code in ("provider_unavailable", "provider_timeout")

    @pytest.mark.parametrize("http_status", [200, 400, 404, 500, 502, 503])
    async def test_unreadable_body_is_a_provider_error(
        self, harness: ContractHarness, http_status: int
    ) -> None:
        request = harness.request(self.provider_class.info.content_types[0])
        harness.inject_garbage(request, http_status)
        with pytest.raises(ProviderError) as caught:
            await harness.provider().send(request)
        if http_status >= 500:
            assert caught.value.retryable
        elif http_status >= 400:
            assert not caught.value.retryable


def contract_tests(
    name: str,
    provider_class: type[Provider[Any]],
    open_harness: Callable[[], AbstractAsyncContextManager[ContractHarness]],
) -> type[ProviderContract]:
    """The :class:`ProviderContract` of ``provider_class`` against the fake ``open_harness``
    starts, as a class ``name`` (``TestSendGridContract = contract_tests(...)``: the module
    attribute and the class share the ``Test...`` name pytest collects and reports)."""
    body = {"provider_class": provider_class, "open_harness": staticmethod(open_harness)}
    return type(name, (ProviderContract,), body)
