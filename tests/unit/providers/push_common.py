"""The ``validate`` test shared by the two push providers' tests (apn and firebase)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from providers import InvalidRequest
from tests.unit.providers.harness import push_request

__all__ = ["PushCase", "push_validation_test"]

#: (content, device token, metadata, expected InvalidRequest code) for ``validate``.
PushCase = tuple[dict[str, Any], str | None, dict[str, Any], str]


def push_validation_test(cases: list[PushCase], **fields: Any) -> Callable[..., None]:
    """The test that ``validate`` of the module's ``env`` harness refuses each push request
    of ``cases`` (with ``fields``) with its code."""

    def test(
        env: Any, content: dict[str, Any], token: str | None, metadata: dict[str, Any], code: str
    ) -> None:
        request = push_request(content, token=token, metadata=metadata, **fields)
        with pytest.raises(InvalidRequest) as caught:
            env.provider().validate(request)
        assert caught.value.code == code

    parametrized: Callable[..., None] = pytest.mark.parametrize(
        ("content", "token", "metadata", "code"), cases
    )(test)
    return parametrized
