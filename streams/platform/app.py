"""The Faust app, in one place (its topics: :mod:`streams.platform.topics`).

``create_app(settings, role)`` builds the app for a worker role (``router`` or
``whatsapp``, the WhatsApp Web session worker) with its own consumer group, declares Herald's topics
(created beforehand, with their configured partition counts, by
``streams.platform.admin.ensure_topics``), and registers the role's agents and web views from
an explicit list -- no autodiscovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver

from schemas import Settings
from streams.agents import retry as retry_agents
from streams.agents import router as router_agents
from streams.agents import whatsapp as whatsapp_agents
from streams.pipeline.processor import EventSink
from streams.platform.runtime import Runtime
from streams.platform.topics import Topics
from streams.web import console as console_views
from streams.web import metrics as metrics_views
from streams.web import views
from streams.web import wppconnect as wppconnect_views

__all__ = ["ROLES", "Herald", "Topics", "create_app"]

ROLES = ("router", "whatsapp")


@dataclass(frozen=True)
class Herald:
    """A worker's parts: the Faust app, its topics and the runtime its agents share."""

    app: faust.App
    topics: Topics
    runtime: Runtime


def _transport(app: faust.App, settings: Settings) -> Any:
    """Faust's aiokafka transport with the consumer's fetch wait from the settings.

    Faust hard-codes ``fetch_max_wait_ms=1500``; the embedded broker answers an empty
    fetch only at that wait, which would delay a paced load by up to 1.5 s.
    """
    wait_ms = settings.consumer_fetch_wait_ms

    class ConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = wait_ms  # read when the consumer starts
            return consumer

    class WaitConsumer(aiokafka_driver.Consumer):
        def _new_consumer_thread(self) -> Any:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class Transport(aiokafka_driver.Transport):
        Consumer = WaitConsumer

    return Transport(app.conf.broker_consumer, app)


def create_app(
    settings: Settings, role: str = "router", *, sink: EventSink | None = None
) -> Herald:
    if role not in ROLES:
        raise ValueError(f"unknown worker role {role!r}; expected one of {', '.join(ROLES)}")
    app_id = settings.app_id if role == "router" else f"{settings.app_id}-{role}"
    app = faust.App(
        app_id,
        broker=[
            f"kafka://{server.strip()}" for server in settings.kafka_bootstrap_servers.split(",")
        ],
        store="memory://",
        autodiscover=False,
        topic_allow_declare=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=True,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        # Faust's /router and /table pages show partition topology and table contents to
        # anyone reaching the public port (docs/security.md): off.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_in_thread=False,
        broker_rebalance_timeout=settings.broker_rebalance_timeout,
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=settings.broker_heartbeat_interval,
        broker_commit_every=100,
        broker_commit_interval=1.0,
        producer_acks=-1,
        producer_max_request_size=settings.kafka_max_record_bytes,
        stream_buffer_maxsize=max(4096, settings.max_in_flight * 4),
    )
    app.transport = _transport(app, settings)
    topics = Topics.declare(app, settings)

    runtime: Runtime
    if role == "whatsapp":
        from streams.whatsapp.runtime import WhatsAppRuntime  # Playwright: this role only

        runtime = wa_runtime = WhatsAppRuntime(settings, topics, sink)
        whatsapp_agents.register(app, topics, wa_runtime)
        if settings.wppconnect_console_enabled:
            console_views.register(app)  # GET /console/whatsapp (docs/whatsapp-web.md)
    else:
        runtime = Runtime(settings, topics, sink)
        router_agents.register(app, topics, runtime)
        retry_agents.register(app, topics, runtime)
    views.register(app, runtime)
    wppconnect_views.register(app, runtime)  # session endpoints on every role
    metrics_views.register(app, settings)  # GET /metrics on the admin listener, every role
    return Herald(app=app, topics=topics, runtime=runtime)
