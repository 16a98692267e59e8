"""The composition root of `laino server`: build everything from settings, then serve."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable
from uuid import UUID

import grpc
from eventsourcing.domain import DomainEventProtocol
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from laino.orchestrator import listeners, startup
from laino.orchestrator.access import TokensApp
from laino.orchestrator.api.agents import AgentGateway
from laino.orchestrator.api.auth import Gate
from laino.orchestrator.api.files import AgentFiles
from laino.orchestrator.api.http import HttpServer
from laino.orchestrator.api.http_routes import build as build_http
from laino.orchestrator.api.interceptors import ErrorInterceptor
from laino.orchestrator.api.pools import PoolService
from laino.orchestrator.api.schedules import ScheduleService
from laino.orchestrator.api.servicers import JobService, TokenService, WorkerService
from laino.orchestrator.api.templates import TemplateService
from laino.orchestrator.apps import JobsApp, SagasApp, WorkersApp
from laino.orchestrator.cluster.bus import Bus
from laino.orchestrator.cluster.health import Availability, watch
from laino.orchestrator.cluster.inbox import Inbox
from laino.orchestrator.cluster.lease import AdvisoryLease, FileLease, lead
from laino.orchestrator.cluster.partitions import PARTITIONS, AdvisoryPartitions, AllPartitions
from laino.orchestrator.cluster.peers import ClusterHub, ClusterSessions
from laino.orchestrator.cluster.relay import EventRelay
from laino.orchestrator.domain.jobs import Job
from laino.orchestrator.drivers import Drivers
from laino.orchestrator.follow import Followers
from laino.orchestrator.hub import EVENTS, SAGAS, Hub, job_topic
from laino.orchestrator.metrics import Metrics
from laino.orchestrator.notifying import look_together
from laino.orchestrator.providers import bridge_to_bind, kubernetes_checked, offered
from laino.orchestrator.reconciler import Reconciler
from laino.orchestrator.retention import Retention
from laino.orchestrator.runner import SagaRunner
from laino.orchestrator.scheduler import Scheduler
from laino.orchestrator.schedules import SchedulesApp
from laino.orchestrator.sessions import Sessions
from laino.orchestrator.settings import Settings
from laino.orchestrator.stdin import StdinRelay
from laino.orchestrator.store.admitted import AdmittedTable
from laino.orchestrator.store.artifacts import ArtifactStore
from laino.orchestrator.store.database import Database
from laino.orchestrator.store.logstore import LogStore
from laino.orchestrator.store.objects import ObjectStore
from laino.orchestrator.store.pools import PoolTable
from laino.orchestrator.store.secrets import SecretStore
from laino.orchestrator.templates import TemplatesApp
from laino.orchestrator.term import Term
from laino.orchestrator.views import Views
from laino.providers.tracing import Tracing
from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc

log = logging.getLogger("laino.server")
GAUGE_SECONDS = 1.0

# The client door's services; the agent door serves WorkerService alone.
SERVICE_NAMES = (
    pb.DESCRIPTOR.services_by_name["JobService"].full_name,
    pb.DESCRIPTOR.services_by_name["TokenService"].full_name,
    pb.DESCRIPTOR.services_by_name["PoolService"].full_name,
    pb.DESCRIPTOR.services_by_name["ScheduleService"].full_name,
    pb.DESCRIPTOR.services_by_name["TemplateService"].full_name,
    health.SERVICE_NAME,
    reflection.SERVICE_NAME,
)
OPTIONS = [
    ("grpc.keepalive_permit_without_calls", 1),
    # Agents and the CLI ping every 4 s (providers/dialing.py); pings sooner than this are
    # strikes, and a few strikes end the connection.
    ("grpc.http2.min_ping_interval_without_data_ms", 3000),
    # gRPC sets SO_REUSEPORT by default: a second server on a taken port would start and
    # answer every other call.
    ("grpc.so_reuseport", 0),
    # A call the server has not yet taken up is cancelled after this long (gRPC's default is
    # 30 s). A loaded server takes up a crowd of new calls one at a time, slower than that:
    # they must wait their turn, not fail.
    ("grpc.server_max_unrequested_time_in_server", 300),
]


async def serve(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    startup.check_job_user(settings)
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    database = Database(home, settings.database)
    if not settings.database:
        startup.own_home(home)  # held until the process ends
    startup.check_schema(database)
    engine = database.engine()
    installation = startup.shared(engine, home, "installation", 8)
    secret = startup.shared(engine, home, "secret", 32)
    bus = Bus(settings.nats) if settings.nats else None
    hub: Hub
    sessions: Sessions
    if bus is None:
        hub, sessions = Hub(), Sessions()
    else:
        await bus.connect()
        hub = ClusterHub(bus, installation)
        sessions = ClusterSessions(bus, installation, presence_ttl=3 * settings.heartbeat_interval)
        await hub.start()
        await sessions.start()
    availability = Availability()
    tracing = Tracing("laino-server")
    metrics = Metrics(settings.metrics_listen)

    tokens = TokensApp(database.event_store("tokens"))
    schedules = SchedulesApp(database.event_store("schedules"))
    templates = TemplatesApp(database.event_store("templates"))
    startup.admin_token(tokens, home)
    gate = Gate(tokens)
    server = grpc.aio.server(interceptors=[ErrorInterceptor(availability, gate)], options=OPTIONS)
    insecure = settings.insecure
    tls = listeners.credentials(settings, clients=True)
    agents_ca = listeners.agents_ca(settings)
    inputs_ca = listeners.inputs_ca(settings)
    port = listeners.listen(server, settings.listen, "--listen", tls, insecure=insecure)
    agent_door = grpc.aio.server(interceptors=[ErrorInterceptor(availability)], options=OPTIONS)
    agent_tls = listeners.credentials(settings, clients=False)
    agent_door_address = settings.agent_door
    agent_port = listeners.listen(
        agent_door, agent_door_address, "--agent-listen", agent_tls, insecure=insecure
    )
    bridge = bridge_to_bind(settings)
    if bridge is not None:
        # Containers reach the host through the bridge's gateway, never through its loopback;
        # the bridge serves the agent door only, so no container can reach the client API.
        # Only this host's containers reach a bridge: plaintext there needs no --insecure.
        try:
            listeners.listen(
                agent_door, f"{bridge}:{agent_port}", "bridge", agent_tls, insecure=True
            )
        except listeners.ListenRefused as err:
            log.warning("cannot listen on the docker bridge: %s", err)
            bridge = None
    kubernetes = None
    if settings.k8s_namespace:
        kubernetes = await asyncio.to_thread(
            kubernetes_checked, settings, installation=installation, agent_port=agent_port
        )
    health_servicer = health.aio.HealthServicer()
    await health_servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(SERVICE_NAMES, server)

    jobs = JobsApp(database.event_store("jobs"))
    workers = WorkersApp(
        database.event_store("workers"),
        secret=bytes.fromhex(secret),
        token_ttl=settings.register_timeout * 2,
    )
    sagas = SagasApp(database.event_store("sagas"))
    sagas.follow(jobs.name, jobs.notification_log)
    for app in (tokens, schedules, templates, jobs, workers, sagas):
        availability.guard(app)
    look_together([tokens, schedules, templates, jobs, workers, sagas])

    def wake(events: list[DomainEventProtocol[UUID]]) -> None:
        for event in events:
            hub.changed(job_topic(event.originator_id))
            if isinstance(event, Job.Submitted):  # type: ignore[attr-defined]
                hub.changed(SAGAS)
        hub.changed(EVENTS)

    def observe(events: list[DomainEventProtocol[UUID]]) -> None:
        wake(events)
        metrics.job_events(events, lambda job_id: jobs.get_job(job_id).created_at)

    jobs.listener = observe if metrics.enabled else wake
    if metrics.enabled:
        sagas.listener = metrics.saga_events
    logs = LogStore(engine)
    objects = ObjectStore(settings.artifacts) if settings.artifacts else None
    if objects is not None:
        objects.check()
    folder = home / "artifacts" if not settings.database else None
    artifacts = ArtifactStore(engine, folder, objects)
    artifacts.clear_spool()
    secret_store = SecretStore(engine, bytes.fromhex(secret))
    views = Views(engine, jobs, workers, sagas)
    retention = Retention(jobs=jobs, views=views, logs=logs, artifacts=artifacts, hub=hub)
    followers = Followers(jobs, logs, hub)
    gateway = AgentGateway(
        settings=settings,
        availability=availability,
        jobs=jobs,
        workers=workers,
        logs=logs,
        sessions=sessions,
        hub=hub,
        tracing=tracing,
        metrics=metrics,
    )
    job_service = JobService(
        settings=settings,
        jobs=jobs,
        workers=workers,
        sagas=sagas,
        views=views,
        followers=followers,
        stdin=StdinRelay(jobs, sessions, hub),
        tracing=tracing,
        secrets=secret_store,
        retention=retention,
        artifacts=artifacts,
    )
    rpc.add_JobServiceServicer_to_server(job_service, server)
    rpc.add_TokenServiceServicer_to_server(TokenService(tokens), server)
    schedule_service = ScheduleService(
        settings=settings, schedules=schedules, jobs=jobs, templates=templates
    )
    rpc.add_ScheduleServiceServicer_to_server(schedule_service, server)
    rpc.add_TemplateServiceServicer_to_server(
        TemplateService(templates=templates, submitter=job_service), server
    )
    pools = PoolTable(engine)
    for (provider, image), size in settings.warm_pools.items():
        pools.set(provider, image, size)  # as `laino pool set` would
    pool_service = PoolService(settings=settings, table=pools, views=views)
    rpc.add_PoolServiceServicer_to_server(pool_service, server)
    uploads = AgentFiles(gateway=gateway, store=artifacts)
    rpc.add_WorkerServiceServicer_to_server(WorkerService(gateway, uploads), agent_door)
    http = None
    if settings.http_listen:
        sock = listeners.http_socket(
            settings.http_listen, tls=bool(settings.tls_cert), insecure=insecure
        )
        http = HttpServer(
            build_http(
                {
                    "JobService": job_service,
                    "ScheduleService": schedule_service,
                    "PoolService": pool_service,
                },
                gate,
                availability,
            ),
            sock,
            settings,
        )
    await server.start()
    await agent_door.start()
    serving_http = asyncio.create_task(http.run_here()) if http is not None else None
    address = f"{settings.listen.rsplit(':', 1)[0]}:{port}"
    agents = f"{settings.agent_door.rsplit(':', 1)[0]}:{agent_port}"
    also = f" and {bridge}:{agent_port} for containers" if bridge else ""
    if http is not None:
        also += f", HTTP on {settings.http_listen.rsplit(':', 1)[0]}:{http.port}"
    print(
        f"laino server listening on {address}, agents on {agents}{also} (home {home})",
        file=sys.stderr,
        flush=True,
    )
    if metrics.enabled:
        host = settings.metrics_listen.rpartition(":")[0]
        print(f"metrics on http://{host}:{metrics.port}/metrics", file=sys.stderr, flush=True)

    providers = offered(
        settings,
        installation=installation,
        agent_port=agent_port,
        bridge=bridge,
        tracing=tracing,
        metrics=metrics,
        kubernetes=kubernetes,
    )

    runner = SagaRunner(
        settings=settings,
        jobs=jobs,
        workers=workers,
        sagas=sagas,
        views=views,
        logs=logs,
        secrets=secret_store,
        providers=providers,
        sessions=sessions,
        hub=hub,
        tracing=tracing,
        installation=installation,
        agent_address=settings.agent_address(agent_port),
        agents_ca=agents_ca,
        inputs_ca=inputs_ca,
        availability=availability,
    )
    postgresql = database.dialect == "postgresql"
    drivers = Drivers(
        runner=runner,
        table=AdmittedTable(engine) if postgresql else None,
        partitions=AdvisoryPartitions(engine) if postgresql else AllPartitions(),
        # Held from the start on the embedded database: admission hands jobs over directly.
        held=set() if postgresql else set(range(PARTITIONS)),
    )
    runner.warm = drivers.warm

    def lead_work() -> list[Awaitable[None]]:
        """What only the lease holder runs; built afresh for each term."""
        scheduler = Scheduler(schedules=schedules, jobs=jobs, availability=availability)
        work: list[Awaitable[None]] = [
            Term(runner=runner, drivers=drivers).run(),
            retention.run(settings.retain, availability),
            scheduler.run(),
        ]
        if bus is not None:
            work.append(
                EventRelay(
                    apps=[jobs, workers, sagas],
                    engine=engine,
                    bus=bus,
                    hub=hub,
                    installation=installation,
                ).run()
            )
            inbox = Inbox(
                settings=settings, jobs=jobs, bus=bus, tracing=tracing, availability=availability
            )
            work.append(inbox.run())
        return work

    lease = AdvisoryLease(engine) if postgresql else FileLease(home / "lease")
    leading = asyncio.create_task(lead(lease, lead_work))
    driving = asyncio.create_task(drivers.run())
    # Every server, not only the lease holder: a process worker, or a container of this host's
    # engine, can only be removed from here, whoever held the lease when it was started.
    reconciler = Reconciler(
        workers=workers,
        providers=providers.values,
        interval=settings.reconcile_interval,
        grace=settings.reconcile_grace,
        availability=availability,
    )
    reconciling = asyncio.create_task(reconciler.run())
    gauging = asyncio.create_task(_gauge(views, metrics)) if metrics.enabled else None
    watching = asyncio.create_task(watch(health_servicer, availability, engine, bus, sessions))
    listening = asyncio.create_task(sessions.keep_time())
    if ready is not None:
        ready.set()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    # Workers keep running across a restart: the next server adopts them.
    await health_servicer.enter_graceful_shutdown()
    leading.cancel()
    driving.cancel()
    reconciling.cancel()
    watching.cancel()
    listening.cancel()
    if gauging is not None:
        gauging.cancel()
    if http is not None and serving_http is not None:
        http.should_exit = True
        await serving_http
    await asyncio.gather(server.stop(grace=1.0), agent_door.stop(grace=1.0))
    with contextlib.suppress(asyncio.CancelledError):
        await leading
    with contextlib.suppress(asyncio.CancelledError):
        await driving
    if bus is not None:
        await bus.close()
    engine.dispose()
    tracing.shutdown()


async def _gauge(views: Views, metrics: Metrics) -> None:
    """Jobs and workers by state, refreshed for the scrapes."""
    while True:
        views.catch_up()
        metrics.states(*views.counts())
        await asyncio.sleep(GAUGE_SECONDS)
