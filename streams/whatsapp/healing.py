"""Self-healing: the per-session watchdog's probe and the reopening backoff.

WPPConnect's ``startPhoneWatchdog`` checks a session at an interval; Herald's watchdog
(``WHATSAPP_WPPCONNECT_WATCHDOG_INTERVAL``) asks the page for the bridge's snapshot and
judges the answer:

* the page or browser is gone, or a frame was detached -> ``browser_lost``;
* the page does not answer in time -> ``page_unresponsive``;
* "Execution context was destroyed" (a navigation) or WhatsApp Web not loaded, three
  checks in a row -> ``context_destroyed`` / ``not_ready``;
* otherwise healthy.

A verdict makes the session reopen its browser from its token store
(``WhatsAppSession._recover``), after :func:`restart_delay`: bounded exponential backoff
with jitter. Crash events from the page (``page.crashed``, ``page.closed``,
``browser.disconnected``) do the same without waiting for the next check.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from streams.whatsapp.driver import ContextReset, DriverClosed, DriverError, SessionDriver

__all__ = ["SUSPECT_LIMIT", "Probe", "probe", "restart_delay"]

#: Checks in a row that may find the page navigating or not loaded before it counts.
SUSPECT_LIMIT = 3


@dataclass(frozen=True, slots=True)
class Probe:
    """One check: ``verdict`` is the failure (``None``: healthy or not yet judged)."""

    verdict: str | None
    suspect: bool = False
    snapshot: dict[str, object] | None = None


async def probe(driver: SessionDriver, timeout: float) -> Probe:  # noqa: ASYNC109
    try:
        async with asyncio.timeout(timeout):
            snap = await driver.snapshot()
    except DriverClosed:
        return Probe("browser_lost")
    except TimeoutError:
        return Probe("page_unresponsive")
    except ContextReset:
        return Probe(None, suspect=True)
    except DriverError as exc:
        text = str(exc).lower()
        if "detached" in text or "crash" in text:
            return Probe("browser_lost")
        if "timeout" in text or "did not answer" in text:
            return Probe("page_unresponsive")
        return Probe(None, suspect=True)
    if not snap.get("ready"):
        return Probe(None, suspect=True, snapshot=snap)
    return Probe(None, snapshot=snap)


def restart_delay(failures: int, base: float, cap: float) -> float:
    """Seconds before reopening after ``failures`` failures in a row: base·2^(n-1), capped."""
    raw = min(cap, base * 2.0 ** max(0, failures - 1))
    return float(raw * random.uniform(0.8, 1.0))
