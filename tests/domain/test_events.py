"""Which event types a client may post: its own namespaces, never the control plane's."""

from __future__ import annotations

import pytest

from mcos.domain import events
from mcos.domain.events import OPERATOR_NAMESPACES, RESERVED_NAMESPACES, client_type_problem


@pytest.mark.parametrize(
    "event_type",
    ["runtime.tool_called", "langgraph.node.finished", "crew.task_done", "a.b.c.d.e"],
)
def test_client_types_are_accepted(event_type: str) -> None:
    assert client_type_problem(event_type) is None


@pytest.mark.parametrize("event_type", ["agent.heartbeat", "task.moved", "incident.raised"])
def test_reserved_namespaces_are_refused(event_type: str) -> None:
    namespace = event_type.split(".")[0]
    assert client_type_problem(event_type) == (
        f"the {namespace!r} namespace is written by the control plane only"
    )


def test_only_operators_post_the_demos_narration() -> None:
    # The dashboard shows demo.scene to every operator: an agent may not put words there.
    assert client_type_problem("demo.scene") == "the 'demo' namespace is posted by operators only"
    assert client_type_problem("demo.scene", operator=True) is None
    assert client_type_problem("runtime.tool_called", operator=True) is None


def test_no_server_event_type_can_be_forged() -> None:
    server_types = [
        value
        for name, value in vars(events).items()
        if name.isupper() and isinstance(value, str) and "." in value
    ]
    assert "agent.heartbeat" in server_types
    assert "task.moved" in server_types
    for event_type in server_types:
        # The control plane's own, or narration only operators post (demo.scene).
        assert event_type.split(".")[0] in RESERVED_NAMESPACES | OPERATOR_NAMESPACES
        assert client_type_problem(event_type) is not None, event_type


@pytest.mark.parametrize(
    "event_type",
    [
        "",
        "runtime",
        "runtime.",
        ".tool_called",
        "Runtime.tool_called",
        "runtime.Tool",
        "runtime tool",
        "runtime..tool",
        "1runtime.tool",
        "runtime-x.tool",
        "a.b.c.d.e.f",
    ],
)
def test_malformed_types_are_refused(event_type: str) -> None:
    problem = client_type_problem(event_type)
    assert problem == (
        f"{event_type!r} is not a dotted lowercase event type such as 'runtime.tool_called'"
    )
