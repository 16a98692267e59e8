"""How soon an agent calls a server again that asked it to (laino-retry-after-ms)."""

from __future__ import annotations

import grpc
import pytest

from laino.providers.agent.session import _retry_after
from laino.providers.base import RETRY_AFTER


def _unavailable(*trailing: tuple[str, str]) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(*trailing)
    )


def test_a_server_that_asks_is_called_again_that_soon_and_never_later_than_two_seconds() -> None:
    assert _retry_after(_unavailable((RETRY_AFTER, "250"))) == 0.25
    assert _retry_after(_unavailable((RETRY_AFTER, "9999"))) == 2.0
    assert _retry_after(_unavailable((RETRY_AFTER, str(2**64)))) == 2.0
    assert _retry_after(_unavailable((RETRY_AFTER, "9" * (10 * 1024 * 1024)))) == 2.0


@pytest.mark.parametrize("value", ["", "nan", "-5", "1e3", "2.5", "25\x000", "٣"])
def test_a_value_that_is_not_a_whole_number_of_milliseconds_is_ignored(value: str) -> None:
    assert _retry_after(_unavailable((RETRY_AFTER, value))) is None


def test_no_value_or_another_error_says_nothing() -> None:
    assert _retry_after(_unavailable()) is None
    assert _retry_after(ConnectionError("reset")) is None
