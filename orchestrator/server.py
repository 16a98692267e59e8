"""The composition root of `laino server`: build everything from settings, then serve."""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import sqlite3
import sys
from pathlib import Path
from uuid import UUID

import grpc
from eventsourcing.domain import DomainEventProtocol
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from laino import migrations
from laino.orchestrator.agents import AgentGateway
from laino.orchestrator.apps import JobsApp, SagasApp, WorkersApp
from laino.orchestrator.follow import Followers
from laino.orchestrator.hub import SAGAS, Hub, job_topic
from laino.orchestrator.interceptors import ErrorInterceptor
from laino.orchestrator.logstore import LogStore
from laino.orchestrator.runner import SagaRunner
from laino.orchestrator.servicers import JobService, WorkerService
from laino.orchestrator.sessions import Sessions
from laino.orchestrator.settings import Settings
from laino.orchestrator.views import Views
from laino.providers.base import Provider
from laino.providers.process import ProcessProvider
from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc

log = logging.getLogger("laino.server")

SERVICE_NAMES = (
    pb.DESCRIPTOR.services_by_name["JobService"].full_name,
    pb.DESCRIPTOR.services_by_name["WorkerService"].full_name,
    health.SERVICE_NAME,
    reflection.SERVICE_NAME,
)


def _event_store(home: Path, name: str) -> dict[str, str]:
    # One SQLite file per application: eventsourcing names every SQLite events table alike.
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(home / f"{name}.db"),
        "SQLITE_LOCK_TIMEOUT": "10",
        "AGGREGATE_CACHE_MAXSIZE": "5000",
    }


def _secret(path: Path, size: int) -> str:
    if not path.exists():
        path.write_text(secrets.token_hex(size))
        path.chmod(0o600)
    return path.read_text().strip()


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    migrations.apply(conn)
    return conn


async def serve(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    installation = _secret(home / "installation", 8)
    hub = Hub()

    server = grpc.aio.server(
        interceptors=[ErrorInterceptor()],
        options=[
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 5000),
        ],
    )
    port = server.add_insecure_port(settings.listen)
    health_servicer = health.aio.HealthServicer()
    await health_servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(SERVICE_NAMES, server)

    jobs = JobsApp(_event_store(home, "jobs"))
    workers = WorkersApp(
        _event_store(home, "workers"),
        secret=bytes.fromhex(_secret(home / "secret", 32)),
        token_ttl=settings.register_timeout * 2,
    )
    sagas = SagasApp(_event_store(home, "sagas"))
    sagas.follow(jobs.name, jobs.notification_log)

    def wake(events: list[DomainEventProtocol[UUID]]) -> None:
        for event in events:
            hub.changed(job_topic(event.originator_id))
        hub.changed(SAGAS)

    jobs.listener = wake
    conn = _connect(home / "laino.db")
    logs = LogStore(conn, budget=settings.log_budget_lines)
    views = Views(conn, jobs, workers, sagas)
    sessions = Sessions()
    followers = Followers(jobs, logs, hub)
    gateway = AgentGateway(
        settings=settings, jobs=jobs, workers=workers, logs=logs, sessions=sessions, hub=hub
    )
    rpc.add_JobServiceServicer_to_server(
        JobService(
            settings=settings,
            jobs=jobs,
            workers=workers,
            sagas=sagas,
            views=views,
            followers=followers,
        ),
        server,
    )
    rpc.add_WorkerServiceServicer_to_server(WorkerService(gateway), server)
    await server.start()
    address = f"{settings.listen.rsplit(':', 1)[0]}:{port}"
    print(f"laino server listening on {address} (home {home})", file=sys.stderr, flush=True)

    providers: dict[str, Provider] = {
        "process": ProcessProvider(home / "workers", installation=installation),
    }
    runner = SagaRunner(
        settings=settings,
        jobs=jobs,
        workers=workers,
        sagas=sagas,
        views=views,
        logs=logs,
        providers=providers,
        sessions=sessions,
        hub=hub,
        installation=installation,
        agent_address=settings.agent_address(port),
    )
    running = asyncio.create_task(runner.run())
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    if ready is not None:
        ready.set()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.wait(
        {running, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
    )
    if running.done():
        running.result()
    # Workers keep running across a restart: the next server adopts them.
    await health_servicer.enter_graceful_shutdown()
    running.cancel()
    await server.stop(grace=1.0)
    conn.close()
