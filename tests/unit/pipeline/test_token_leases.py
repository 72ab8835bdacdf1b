"""Tokens leased from a rate-limit bucket: spent in process until the lease ends."""

from __future__ import annotations

from streams.pipeline.ratelimit import TokenLeases


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_claim_leases_a_lease_worth_of_the_rate_at_most_the_burst() -> None:
    leases = TokenLeases(0.1)
    assert leases.ahead(80, 1000) == 8  # WhatsApp Cloud's 80/s: 8 tokens per 100 ms
    assert leases.ahead(1, 5) == 1  # a slow bucket still leases one
    assert leases.ahead(10_000, 50) == 50  # never more than the burst
    assert TokenLeases(0).ahead(80, 1000) == 0  # off


def test_leased_tokens_are_spent_once_and_dropped_when_the_lease_ends() -> None:
    clock = Clock()
    leases = TokenLeases(0.1, clock=clock)
    assert not leases.spend("b")
    leases.grant("b", 2)
    assert leases.spend("b")
    assert leases.spend("b")
    assert not leases.spend("b")  # two granted, two spent
    leases.grant("b", 5)
    clock.now += 0.1  # the lease is over: the three left are dropped, not spent
    assert not leases.spend("b")
    leases.grant("b", 3)
    leases.grant("b", 0)  # a claim that leased nothing: nothing is held
    assert not leases.spend("b")
    assert not leases.spend("other")
