"""Token requests that no server could honour are refused with a clear error and store nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from laino.orchestrator.access import InvalidTokenRequest, TokensApp, Unauthenticated
from laino.orchestrator.domain.tokens import InvalidTokenName


def _app(tmp_path: Path) -> TokensApp:
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "tokens.db"),
        "CREATE_TABLE": "y",
    }
    return TokensApp(env)


@pytest.mark.parametrize(
    ("name", "role", "ttl", "refused"),
    [
        ("ci", "read", float("nan"), InvalidTokenRequest),
        ("ci", "read", float("inf"), InvalidTokenRequest),
        ("ci", "read", 2.0**64, InvalidTokenRequest),
        ("ci", "read", -1.0, InvalidTokenRequest),
        ("ci", "root", 0.0, InvalidTokenRequest),
        ("c\0i", "read", 0.0, InvalidTokenName),
        ("x" * 10_000_000, "read", 0.0, InvalidTokenName),
        ("", "read", 0.0, InvalidTokenName),
    ],
)
def test_a_token_request_out_of_bounds_is_refused_and_stores_nothing(
    tmp_path: Path, name: str, role: str, ttl: float, refused: type[Exception]
) -> None:
    tokens = _app(tmp_path)
    with pytest.raises(refused):
        tokens.issue(name, role, providers=[], ttl=ttl, by="test")
    assert tokens.tokens() == []


def test_a_bearer_of_any_shape_is_refused_as_not_valid(tmp_path: Path) -> None:
    tokens = _app(tmp_path)
    _, good = tokens.issue("ci", "read", providers=[], ttl=0, by="test")
    for bearer in ["laino_", "laino_" + "z" * 32 + "_x", good + "\0", good[:-1], "x" * 10_000_000]:
        with pytest.raises(Unauthenticated, match="the token is not valid"):
            tokens.authenticate(bearer)
    assert tokens.authenticate(good).name == "ci"
