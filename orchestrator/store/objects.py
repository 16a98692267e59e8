"""Artifacts' bytes in an S3-compatible object store: `--artifacts s3://BUCKET[/PREFIX]`.

The endpoint and the credentials are found as the AWS SDK finds them (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, or ~/.aws), so any S3-compatible store
serves. Each file's bytes are one object, named by their sha256: writing one twice is harmless.
boto3 is imported only when such a store is given (`pip install laino[s3]`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import urlsplit

CHUNK = 1 << 20


class ObjectStoreAway(RuntimeError):
    """The object store did not answer, or refused laino's credentials: nothing was stored."""


class InvalidObjectStore(ValueError):
    """--artifacts names no store laino can use."""


class ObjectStore:
    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise InvalidObjectStore(f"--artifacts {url!r}: give s3://BUCKET[/PREFIX]")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        try:
            import boto3
            import botocore.config
            import botocore.exceptions
        except ImportError:
            raise ValueError(
                "--artifacts s3://…: install boto3 (pip install 'laino[s3]')"
            ) from None
        self.errors: tuple[type[BaseException], ...] = (
            botocore.exceptions.BotoCoreError,
            botocore.exceptions.ClientError,
        )
        config = botocore.config.Config(connect_timeout=2, retries={"max_attempts": 2})
        self.client: Any = boto3.client("s3", config=config)

    def check(self) -> None:
        """At start: the bucket is there and laino may use it."""
        self._call(self.client.head_bucket, Bucket=self.bucket)

    def has(self, digest: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(digest))
        except self.errors as err:
            if _status(err) == 404:
                return False
            raise ObjectStoreAway(f"the artifact store: {err}") from None
        return True

    def put(self, digest: str, file: IO[bytes]) -> None:
        file.seek(0)
        self._call(self.client.upload_fileobj, file, self.bucket, self._key(digest))

    def read(self, digest: str) -> Iterator[bytes]:
        found = self._call(self.client.get_object, Bucket=self.bucket, Key=self._key(digest))
        body = found["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        except self.errors as err:
            raise ObjectStoreAway(f"the artifact store: {err}") from None
        finally:
            body.close()

    def delete(self, digest: str) -> None:
        self._call(self.client.delete_object, Bucket=self.bucket, Key=self._key(digest))

    def _key(self, digest: str) -> str:
        return f"{self.prefix}/{digest}" if self.prefix else digest

    def _call(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except self.errors as err:
            raise ObjectStoreAway(f"the artifact store: {err}") from None


def _status(err: BaseException) -> int:
    response = getattr(err, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
