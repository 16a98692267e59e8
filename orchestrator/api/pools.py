"""The warm pools' servicer, and the providers' queues they sit in: decode, one call, encode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import grpc

from laino.orchestrator.settings import Settings
from laino.orchestrator.store.pools import InvalidPool, Pool, PoolTable
from laino.orchestrator.views import Queue, Views
from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


@dataclass(kw_only=True, eq=False)
class PoolService(rpc.PoolServiceServicer):
    settings: Settings
    table: PoolTable
    views: Views

    async def SetPool(self, request: pb.SetPoolRequest, context: Context) -> pb.Pool:
        capacity = self.settings.capacities
        if request.provider not in capacity:
            raise InvalidPool(f"provider {request.provider!r}: one of {', '.join(capacity)}")
        if request.size > capacity[request.provider]:
            raise InvalidPool(
                f"size {request.size} is more than {request.provider}'s capacity"
                f" ({capacity[request.provider]}): set --capacity"
            )
        return self._message(self.table.set(request.provider, request.image, request.size))

    async def ListPools(
        self, request: pb.ListPoolsRequest, context: Context
    ) -> pb.ListPoolsResponse:
        return pb.ListPoolsResponse(pools=[self._message(p) for p in self.table.pools()])

    async def DeletePool(self, request: pb.PoolRequest, context: Context) -> pb.Pool:
        return self._message(self.table.delete(request.provider, request.image))

    async def ListQueues(
        self, request: pb.ListQueuesRequest, context: Context
    ) -> pb.ListQueuesResponse:
        found = self.views.queues()
        queues = []
        for provider, capacity in self.settings.capacities.items():
            queue = found.get(provider, Queue())
            queues.append(
                pb.Queue(
                    provider=provider,
                    capacity=capacity,
                    running=queue.running,
                    pooled=queue.pooled,
                    queued=queue.queued,
                    oldest_queued_at=queue.oldest_queued_at,
                )
            )
        return pb.ListQueuesResponse(queues=queues)

    def _message(self, pool: Pool) -> pb.Pool:
        warm, starting = self.views.pool_counts(pool.key)
        return pb.Pool(
            provider=pool.provider, image=pool.image, size=pool.size, warm=warm, starting=starting
        )
