"""Which of a tenant's WhatsApp Web sessions a request, a command or an endpoint means.

One helper for everything that names a session: a request's ``sender``, a command's
``sessionName``, the session endpoints' ``session`` query parameter. A name selects the
tenant's ``wppconnect`` integration with that ``sessionName`` (``unknown_sender`` when it
has none); no name selects the tenant's default session -- the one a request without
``sender`` goes out through: the integration flagged default for the channel, else the
lowest ``priority``, else the tenant's first session (docs/whatsapp-web.md, "Several
numbers per tenant"). A tenant without an integration of its own runs one session on
the system integration's settings.
"""

from __future__ import annotations

from providers.wppconnect import WPPConnectProvider
from schemas import ErrorCode, NotificationRequest
from schemas.credentials import WPPConnectCredentials
from schemas.notification import Channel, Recipient
from streams.pipeline.resolve import Rejection, resolve_provider
from streams.tenancy.integrations import IntegrationStore
from streams.tenancy.lookups import LookupsService
from streams.whatsapp.naming import SessionRef, session_id

__all__ = ["select_session", "session_for"]

PROVIDER = WPPConnectProvider.name


async def _resolve(
    request: NotificationRequest, lookups: LookupsService, integrations: IntegrationStore
) -> tuple[WPPConnectCredentials, str, bool]:
    """Credentials, session id, and whether the tenant's own integration was used."""
    resolved = await resolve_provider(
        request.model_copy(update={"provider": PROVIDER}), lookups, integrations
    )
    if not isinstance(resolved.credentials, WPPConnectCredentials):
        raise Rejection(ErrorCode.INVALID_CREDENTIALS, "the integration is not a wppconnect one")
    own = resolved.source in ("request", "tenant")
    integration = resolved.integration if own else None
    return resolved.credentials, session_id(request.tenant_id, integration), own


async def session_for(
    request: NotificationRequest, lookups: LookupsService, integrations: IntegrationStore
) -> tuple[WPPConnectCredentials, SessionRef]:
    """The credentials and session of ``request`` (its ``sender``, else the default).

    Raises :class:`Rejection` (``unknown_sender``, ``no_integration`` ...).
    """
    credentials, sid, own = await _resolve(request, lookups, integrations)
    is_default = True
    if request.sender is not None:
        default = request.model_copy(update={"sender": None})
        is_default = (await _resolve(default, lookups, integrations))[1] == sid
    ref = SessionRef(
        tenant_id=request.tenant_id,
        session_name=credentials.session_name if own else None,
        sid=sid,
        is_default=is_default,
    )
    return credentials, ref


async def select_session(
    tenant_id: str,
    session_name: str | None,
    lookups: LookupsService,
    integrations: IntegrationStore,
) -> tuple[WPPConnectCredentials, SessionRef]:
    """The tenant's session named ``session_name`` (``None``: its default session)."""
    probe = NotificationRequest(
        id="session",
        tenant_id=tenant_id,
        channel=Channel.WHATSAPP,
        sender=session_name,
        recipient=Recipient(phone="0"),
    )
    return await session_for(probe, lookups, integrations)
