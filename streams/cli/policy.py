"""a tenant's delivery policy (failover between integrations)

With failover on, a retryable failure moves the next attempt to the tenant's next active
integration for the channel, in priority order.
"""

from __future__ import annotations

import argparse
from typing import Any

from schemas.settings import Settings
from streams.cli._support import add_actions, add_command, redis_client, tenant_id
from streams.tenancy.policy import PolicyStore, TenantPolicy

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(subparsers, "policy", doc=__doc__)
    actions = add_actions(parser)
    set_ = add_command(actions, "set", _set, help="set the policy")
    set_.add_argument("--tenant", required=True, type=tenant_id)
    set_.add_argument("--failover", choices=["on", "off"], required=True)
    show = add_command(actions, "show", _show, help="show the policy")
    show.add_argument("--tenant", required=True, type=tenant_id)


async def _set(args: argparse.Namespace, settings: Settings) -> int:
    async with redis_client(settings) as redis:
        await PolicyStore(redis).set(args.tenant, TenantPolicy(failover=args.failover == "on"))
    print(f"tenant {args.tenant}: failover {args.failover}")
    return 0


async def _show(args: argparse.Namespace, settings: Settings) -> int:
    async with redis_client(settings) as redis:
        policy = await PolicyStore(redis).get(args.tenant)
    print(f"tenant {args.tenant}: failover {'on' if policy.failover else 'off'}")
    return 0
