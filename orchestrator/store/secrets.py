"""Job secrets at rest: sealed with the installation's key, kept only until the job ends."""

from __future__ import annotations

import base64
import os
from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine, delete, insert, select

from laino.orchestrator.store.tables import job_secret

NONCE = 12


class SecretStore:
    """AES-256-GCM, its key derived from the installation's shared secret; each value is bound
    to its job and name, so a sealed value copied to another row does not open."""

    def __init__(self, engine: Engine, installation_secret: bytes):
        self.engine = engine
        key = HKDF(hashes.SHA256(), 32, salt=None, info=b"laino job secrets")
        self.aead = AESGCM(key.derive(installation_secret))

    def put(self, job_id: UUID, secrets: dict[str, str]) -> None:
        """Idempotent: a submission repeated with its key stores the same names again."""
        if not secrets:
            return
        rows = [
            {"job_id": str(job_id), "name": name, "sealed": self._seal(job_id, name, value)}
            for name, value in secrets.items()
        ]
        with self.engine.begin() as conn:
            conn.execute(delete(job_secret).where(job_secret.c.job_id == str(job_id)))
            conn.execute(insert(job_secret), rows)

    def get(self, job_id: UUID) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(job_secret.c.name, job_secret.c.sealed).where(
                    job_secret.c.job_id == str(job_id)
                )
            ).all()
        return {name: self._open(job_id, name, sealed) for name, sealed in rows}

    def forget(self, job_id: UUID) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(job_secret).where(job_secret.c.job_id == str(job_id)))

    def _seal(self, job_id: UUID, name: str, value: str) -> str:
        nonce = os.urandom(NONCE)
        sealed = self.aead.encrypt(nonce, value.encode(), f"{job_id}/{name}".encode())
        return base64.b64encode(nonce + sealed).decode()

    def _open(self, job_id: UUID, name: str, sealed: str) -> str:
        raw = base64.b64decode(sealed)
        plain = self.aead.decrypt(raw[:NONCE], raw[NONCE:], f"{job_id}/{name}".encode())
        return plain.decode()
