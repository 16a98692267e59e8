"""The warm pools wanted: how many idle workers to keep, per provider and image."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select, update

from laino.orchestrator.store.tables import warm_pool

# The most idle workers one pool keeps; they hold their provider's capacity meanwhile.
MOST = 1000
# An image reference is at most 255 characters (as the engines take them).
MOST_IMAGE = 255


@dataclass(frozen=True)
class Pool:
    provider: str
    image: str
    size: int

    @property
    def key(self) -> str:
        return pool_key(self.provider, self.image)


def pool_key(provider: str, image: str) -> str:
    """What a pool worker records as its pool, and what a job that may take it matches."""
    return f"{provider}:{image}" if image else provider


class PoolTable:
    def __init__(self, engine: Engine):
        self.engine = engine

    def set(self, provider: str, image: str, size: int) -> Pool:
        if not 0 <= size <= MOST:
            raise InvalidPool(f"size {size}: from 0 to {MOST}")
        if provider == "process" and image:
            raise InvalidPool("process workers have no image")
        if len(image) > MOST_IMAGE or any(c.isspace() or c == "\0" for c in image):
            raise InvalidPool(f"image: at most {MOST_IMAGE} characters, no spaces or NUL bytes")
        where = (warm_pool.c.provider == provider) & (warm_pool.c.image == image)
        with self.engine.begin() as conn:
            if conn.execute(update(warm_pool).where(where).values(size=size)).rowcount == 0:
                conn.execute(insert(warm_pool).values(provider=provider, image=image, size=size))
        return Pool(provider, image, size)

    def delete(self, provider: str, image: str) -> Pool:
        if "\0" in provider + image:  # no pool has such a name, and PostgreSQL refuses the NUL
            raise PoolNotFound(f"no pool {pool_key(provider, image)[:300]!r}")
        where = (warm_pool.c.provider == provider) & (warm_pool.c.image == image)
        with self.engine.begin() as conn:
            if conn.execute(delete(warm_pool).where(where)).rowcount == 0:
                raise PoolNotFound(f"no pool {pool_key(provider, image)}")
        return Pool(provider, image, 0)

    def pools(self) -> list[Pool]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(warm_pool.c.provider, warm_pool.c.image, warm_pool.c.size).order_by(
                    warm_pool.c.provider, warm_pool.c.image
                )
            ).all()
        return [Pool(provider, image, size) for provider, image, size in rows]


class InvalidPool(ValueError):
    """A pool laino cannot keep."""


class PoolNotFound(LookupError):
    """No pool for that provider and image."""
