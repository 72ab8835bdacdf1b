"""Forged inbox inputs answer 400, never 500, on both backends (issue #18, section 4)."""

from __future__ import annotations

import base64

import orjson
import pytest
from redis.asyncio import Redis

from streams.tenancy.auth import Scope
from tests.inbox import make_api, migrated_store

pytestmark = pytest.mark.integration


def _cursor(row_id: int) -> str:
    raw = orjson.dumps(["v1", "2026-01-01T00:00:00+00:00"]).rstrip(b"]") + b", %d]" % row_id
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_forged_cursor_and_limit_are_refused(redis: Redis, inbox_database_url: str) -> None:
    async with migrated_store(inbox_database_url) as store:
        api = make_api(store, redis)
        key, _ = await api.keys.create("acme", scopes=[Scope.INBOX])
        auth = {"Authorization": f"Bearer {key}"}
        largest = await api.list("acme", "u-1", auth, {"cursor": _cursor(2**63 - 1)})
        assert largest.status == 200  # the largest BIGINT is a fine cursor
        for query in (
            {"cursor": _cursor(2**64 - 1)},
            {"cursor": _cursor(2**63)},
            {"limit": "\u00b2"},  # superscript two: str.isdigit() but not int()
            {"limit": "\u0665"},  # Arabic-Indic five
        ):
            answer = await api.list("acme", "u-1", auth, query)
            assert answer.status == 400, (query, answer.body)
