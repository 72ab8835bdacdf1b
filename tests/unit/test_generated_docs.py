from __future__ import annotations

from pathlib import Path

import pytest

from schemas.docs import GENERATED

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("rel", sorted(GENERATED))
def test_generated_docs_are_up_to_date(rel: str) -> None:
    committed = (ROOT / rel).read_text()
    assert committed == GENERATED[rel](), f"{rel} is stale: run `python scripts/gen_docs.py`"


def test_every_setting_is_documented() -> None:
    page = (ROOT / "docs/configuration.md").read_text()
    assert "`HERALD_SECRET_KEY`" in page
    assert "`KAFKA_BOOTSTRAP_SERVERS`" in page
