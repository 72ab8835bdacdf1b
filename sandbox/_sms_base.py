"""What the Twilio and SNS fakes share on top of :mod:`sandbox._base`: SMS faults by recipient."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sandbox._base import FaultTerms, SandboxBase

__all__ = ["SmsFault", "SmsSandboxBase", "recipient_key"]

_NON_DIGITS = re.compile(r"\D+")


def recipient_key(to: str) -> str:
    """Faults are keyed by the recipient's digits (any spelling), or ``*`` for everyone."""
    return to if to == "*" else _NON_DIGITS.sub("", to)


@dataclass(slots=True)
class SmsFault(FaultTerms):
    """What to do to requests for one recipient instead of accepting them.

    ``delay`` seconds pass first (``math.inf``: never answer, until the server stops).
    Then ``raw_body`` is answered as is, or else the service's error ``code`` (Twilio's
    number or AWS's code) with ``http_status``; with neither (a pure delay) the request
    is handled normally. ``times`` limits how many requests it applies to (``None``: all).
    """

    http_status: int = 400
    code: str | None = None
    message: str | None = None


class SmsSandboxBase(SandboxBase[SmsFault]):
    """The Twilio and SNS fakes' fault helpers, on the shared base (recipients by digits)."""

    def fault_key(self, recipient: str) -> str:
        return recipient_key(recipient)

    # --- faults -----------------------------------------------------------------------

    def fail(
        self,
        to: str,
        code: str | int,
        *,
        http_status: int = 400,
        message: str | None = None,
        retry_after: float | None = None,
        times: int | None = None,
    ) -> SmsFault:
        """Answer requests for ``to`` with the service's error ``code``."""
        return self.add_fault(
            to,
            SmsFault(
                http_status=http_status,
                code=str(code),
                message=message,
                retry_after=retry_after,
                times=times,
            ),
        )

    def hang(self, to: str, seconds: float = math.inf, *, times: int | None = None) -> SmsFault:
        """Delay requests for ``to`` by ``seconds`` (default: never answer)."""
        return self.add_fault(to, SmsFault(delay=seconds, times=times))

    def garble(
        self, to: str, *, http_status: int = 200, body: bytes = b"<html>oops</html>"
    ) -> SmsFault:
        """Answer requests for ``to`` with ``body`` (not the service's) and ``http_status``."""
        return self.add_fault(to, SmsFault(http_status=http_status, raw_body=body))
