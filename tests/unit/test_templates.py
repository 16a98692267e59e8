"""Templates' rendering: each {{P}} becomes P's value, once, whatever the value holds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from laino.orchestrator.domain.spec import InvalidSpec, JobSpec
from laino.orchestrator.domain.templates import InvalidTemplate, Template
from laino.orchestrator.templates import Param, _version, render

# Text as gRPC carries it: no lone surrogates (refused, below), and no NUL (refused elsewhere).
VALUES = st.text(
    st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]), max_size=200
)


def _template(
    *params: Param, command: tuple[str, ...], env: dict[str, str] | None = None
) -> Template:
    spec = JobSpec(command=command, env=env or {})
    return Template("t", _version("t", list(params), spec, "me"))


@given(a=VALUES, b=VALUES)
def test_each_value_lands_as_it_is_and_is_not_read_again(a: str, b: str) -> None:
    template = _template(
        Param("a"), Param("b"), command=("echo", "{{a}}", "{{ b }}-{{a}}"), env={"B": "<{{b}}>"}
    )
    spec = render(template, 0, {"a": a, "b": b})
    assert spec.command == ("echo", a, f"{b}-{a}")
    assert spec.env == {"B": f"<{b}>"}
    assert spec.template_params == {"a": a, "b": b}


def test_a_value_that_is_not_text_is_refused() -> None:
    template = _template(Param("a"), command=("echo", "{{a}}"))
    with pytest.raises(InvalidSpec, match="not text: a lone UTF-16 surrogate"):
        render(template, 0, {"a": "\ud800"})


def test_what_is_not_a_placeholder_stays_as_written() -> None:
    template = _template(command=("docker", "inspect", "-f", "{{.Id}} {{ }} {x}"))
    assert render(template, 0, {}).command == ("docker", "inspect", "-f", "{{.Id}} {{ }} {x}")


def test_a_value_longer_than_the_limit_is_refused() -> None:
    template = _template(Param("a"), command=("echo", "{{a}}"))
    with pytest.raises(InvalidTemplate, match="at most 4096"):
        render(template, 0, {"a": "x" * 5000})
