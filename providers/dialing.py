"""How laino's clients, the agent and the CLI, dial the orchestrator: again soon after it comes
back, and away from a connection that has gone silent."""

from __future__ import annotations

RECONNECT = [
    # gRPC's own reconnect backoff grows past a second after an outage, which would outlast a
    # short heartbeat timeout: reconnect soon after the orchestrator is back.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    # A server that stops answering without closing (its host froze, the network broke, a load
    # balancer failed over) is given up within 7 s, before it would declare an agent lost (10 s
    # by default): gRPC pings it every 4 s while a call is open and gives it 3 s to answer
    # (gRPC 1.85 times a keepalive ping by the ping timeout). Otherwise a client waits on it
    # for as long as TCP takes to give up, or for good when it has nothing to send. The
    # orchestrator allows a ping every 3 s (orchestrator/server.py).
    ("grpc.keepalive_time_ms", 4000),
    ("grpc.keepalive_timeout_ms", 3000),
    ("grpc.http2.ping_timeout_ms", 3000),
]
