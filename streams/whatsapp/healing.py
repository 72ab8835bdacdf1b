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
import contextlib
import logging
import random
from dataclasses import dataclass
from typing import Any

from providers._exceptions import RetryableError
from schemas.whatsapp import SessionStatus
from streams.platform.metrics import metrics
from streams.whatsapp.core import SessionCore
from streams.whatsapp.driver import ContextReset, DriverClosed, DriverError, SessionDriver
from streams.whatsapp.options import SESSION_FAILED, SessionPhase

__all__ = ["SUSPECT_LIMIT", "HealingMixin", "Probe", "probe", "restart_delay"]

#: Checks in a row that may find the page navigating or not loaded before it counts.
SUSPECT_LIMIT = 3
#: Phases the watchdog checks (a starting or reopening page has its own deadlines).
_WATCHED = (SessionPhase.PAIRING, SessionPhase.SYNCING, SessionPhase.READY)


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


class HealingMixin(SessionCore):
    """The watchdog and the reopening of a dead page (a mixin of ``WhatsAppSession``)."""

    async def _watch(self) -> None:
        """The watchdog: every interval, probe the page; verdicts go through the event queue."""
        interval = self.options.watchdog_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            driver = self._driver
            if driver is None or self.phase not in _WATCHED:
                continue
            generation = self._generation
            result = await probe(driver, timeout=max(5.0, min(interval * 2, 30.0)))
            self._enqueue(
                "watchdog",
                {"generation": generation, "verdict": result.verdict, "suspect": result.suspect},
            )

    async def _on_watchdog(self, report: dict[str, Any]) -> None:
        if report.get("generation") != self._generation or self.phase not in _WATCHED:
            return
        verdict = report.get("verdict")
        if report.get("suspect"):
            self._suspect += 1
            if self._suspect >= SUSPECT_LIMIT:
                verdict = "not_ready"
        else:
            self._suspect = 0
        if verdict:
            self._log("watchdog: the page is not healthy", logging.WARNING, verdict=verdict)
            await self._recover(str(verdict))
        elif self.phase == SessionPhase.READY and not report.get("suspect"):
            self.failures = 0  # healthy again: the next crash starts the backoff over

    async def _recover(self, reason: str) -> None:
        """The page or browser died: reopen it after a backoff; give up after max_restarts."""
        if self.phase in (SessionPhase.NEW, SessionPhase.CLOSED) or self._logging_out:
            return
        self.failures += 1
        metrics().reconnections.add(1, {"reason": reason})
        if self.failures > self.options.max_restarts:
            self._log("session given up", logging.ERROR, reason=reason, failures=self.failures)
            await self._status(
                SessionStatus.SESSION_FAILED, f"{reason}: {self.failures - 1} restarts failed"
            )
            await self._shutdown(
                RetryableError(
                    SESSION_FAILED,
                    f"the session's browser failed {self.failures} times in a row ({reason})",
                ),
                reason="failed",
            )
            return
        self.phase = SessionPhase.RECOVERING
        self._ready.clear()
        self._cancel_timers()
        driver, self._driver = self._driver, None
        self._generation += 1  # whatever the old page still says is ignored
        if driver is not None:
            with contextlib.suppress(Exception):
                await driver.close()
        await self._listener.on_qr_cleared(self.me)
        await self._status(SessionStatus.BROWSER_CLOSE, f"restarting: {reason}")
        delay = restart_delay(
            self.failures, self.options.restart_base_delay, self.options.reconnect_max_delay
        )
        self._log("reopening the session", logging.WARNING, reason=reason, delay=round(delay, 2))
        self._start_timer("restart", max(1, int(delay * 1000)), self._restart)

    async def _restart(self) -> None:
        if self.phase != SessionPhase.RECOVERING:
            return
        self.restarts += 1
        self.phase = SessionPhase.STARTING
        self.state = None
        self._authenticated = False
        self.login_kept = False  # the new page says whether its profile is logged in
        self.authenticated_at = None
        self._last_code = None
        self._loaded = asyncio.Event()  # a pairing-code request waits for the new page
        self.current_link = None
        self._suspect = 0
        driver = self._new_driver()
        try:
            await driver.open()
        except DriverError as exc:
            self._log("reopening failed", logging.WARNING, error=repr(exc))
            await self._recover("restart_failed")
