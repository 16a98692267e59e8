"""laino's own tables, as the code uses them; `migrations/` creates them, a test compares both."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)

metadata = MetaData()

job_view = Table(
    "job_view",
    metadata,
    # Insertion order, for keyset paging of the job list.
    Column("n", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("state", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("exit_code", Integer),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("logs_expired_at", Double, nullable=False),
    Column("provider", Text, nullable=False),
    Index("job_view_state", "state"),
    Index("job_view_queue", "state", "priority", "n"),
    Index("job_view_provider", "provider", "state"),
)
job_label = Table(
    "job_label",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Index("job_label_kv", "key", "value"),
)
worker_view = Table(
    "worker_view",
    metadata,
    Column("id", Text, primary_key=True),
    Column("job_id", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("pool", Text, nullable=False),
)
warm_pool = Table(
    "warm_pool",
    metadata,
    Column("provider", Text, primary_key=True),
    Column("image", Text, primary_key=True),
    Column("size", Integer, nullable=False),
)
admitted = Table(
    "admitted",
    metadata,
    # The order admission let them go in: a driver reads on from the last it saw.
    Column("n", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("job_id", Text, nullable=False, unique=True),
    Column("part", Integer, nullable=False),
    Column("worker_id", Text, nullable=False, server_default=""),
    Index("admitted_part", "part", "n"),
)
open_saga = Table("open_saga", metadata, Column("job_id", Text, primary_key=True))
view_position = Table(
    "view_position",
    metadata,
    Column("app", Text, primary_key=True),
    Column("position", BigInteger, nullable=False),
)
relay_position = Table(
    "relay_position",
    metadata,
    Column("app", Text, primary_key=True),
    Column("position", BigInteger, nullable=False),
)
shared_secret = Table(
    "shared_secret",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)
log_chunk = Table(
    "log_chunk",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("stream", Integer, nullable=False),
    # When the agent read it (Unix seconds).
    Column("at", Double, nullable=False),
    Column("data", LargeBinary, nullable=False),
)
log_budget = Table(
    "log_budget",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("bytes", BigInteger, nullable=False),
    Column("truncated", Integer, nullable=False),
)

job_secret = Table(
    "job_secret",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("name", Text, primary_key=True),
    # AES-GCM of the value, nonce first, base64; bound to the job and the name.
    Column("sealed", Text, nullable=False),
)

# A job's kept files (store/artifacts.py), and their bytes when the database holds them.
artifact = Table(
    "artifact",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("path", Text, primary_key=True),
    Column("sha256", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", Double, nullable=False),
    Index("artifact_sha256", "sha256"),
)
blob_chunk = Table(
    "blob_chunk",
    metadata,
    Column("sha256", Text, primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)
