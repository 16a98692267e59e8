"""End to end: a thousand followers of one chatty job each get its whole log, in order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server
from tests.crowd import follow

# 2,000 lines a second for 10 seconds.
CHATTY = (
    "import sys, time\n"
    "for t in range(1000):\n"
    "    sys.stdout.write(''.join('line %06d\\n' % (t * 20 + i) for i in range(20)))\n"
    "    sys.stdout.flush(); time.sleep(0.01)\n"
)
EXPECTED = b"".join(b"line %06d\n" % n for n in range(20_000))


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path)
    server.start()
    yield server
    server.stop()


def test_a_thousand_followers_each_get_every_byte(embedded: Server) -> None:
    job_id = embedded.submit("python3", "-c", CHATTY)
    followers = follow(embedded.address, embedded.token, job_id, 1000)
    assert [f.error for f in followers if f.error] == []
    assert all(f.ended for f in followers)
    wrong = [i for i, f in enumerate(followers) if bytes(f.data) != EXPECTED]
    assert wrong == [], f"{len(wrong)} followers got other bytes"
    assert embedded.job(job_id)["state"] == "SUCCEEDED"
