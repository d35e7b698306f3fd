"""Providers through the real SDKs against the wire-level fakes, and the script engine itself."""

from __future__ import annotations

import asyncio
import json
import math
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mcos.errors import InvalidInput
from mcos.runtime.providers import (
    ModelReply,
    ModelRequest,
    PermanentProviderError,
    ProviderError,
    RateLimited,
    Script,
    SimulatedProvider,
    Step,
    ToolCall,
    ToolSpec,
    TransientProviderError,
    Turn,
    make_provider,
)
from mcos.runtime.providers.anthropic import to_messages as anthropic_messages
from mcos.runtime.providers.anthropic import to_tools as anthropic_tools
from mcos.runtime.providers.openai import to_messages as openai_messages
from mcos.runtime.providers.simulated import Rule, ScriptedToolCall, estimate_prompt_tokens
from mcos.testing.fake_providers import FakeProviderServer
from tests.fixtures.web import Route, WebServer

APIS = ["anthropic", "openai"]
READ_FILE = ToolSpec(
    "read_file",
    "Read a file from the workspace.",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)
NOTE = ToolSpec("note", "Write a note.", {"type": "object", "properties": {}})


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeProviderServer) -> FakeProviderServer:
    fake_server.set_script(Script())
    fake_server.clear_requests()
    return fake_server


def fresh_key() -> str:
    """A key no earlier test used, so the fake's prompt cache starts cold for it."""
    return f"sk-test-{uuid.uuid4().hex[:8]}"


def request(
    *turns: Turn, system: str = "You are Flow.", tools: tuple[ToolSpec, ...] = ()
) -> ModelRequest:
    return ModelRequest(model="test-model", system=system, turns=turns, tools=tools)


def work(text: str = "Summarise the inbox.") -> Turn:
    return Turn("user", text)


async def _complete(fake: FakeProviderServer, api: str, req: ModelRequest, key: str) -> ModelReply:
    base_url = fake.anthropic_base_url if api == "anthropic" else fake.openai_base_url
    provider = make_provider(api, api_key=key, base_url=base_url)
    try:
        return await provider.complete(req)
    finally:
        await provider.aclose()


def complete(
    fake: FakeProviderServer, api: str, req: ModelRequest, key: str = "sk-test"
) -> ModelReply:
    return asyncio.run(_complete(fake, api, req, key))


def failure(fake: FakeProviderServer, api: str, req: ModelRequest) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        complete(fake, api, req)
    return caught.value


def simulate(script: Script, req: ModelRequest, key: str = "simulated") -> ModelReply:
    return asyncio.run(SimulatedProvider(script, key=key).complete(req))


# --- the real SDKs against the fakes ---------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_text_reply(fake: FakeProviderServer, api: str) -> None:
    fake.set_script(Script([Rule(steps=(Step.reply("Three unread mails."),))]))
    reply = complete(fake, api, request(work()))
    assert reply.text == "(simulated) Three unread mails."
    assert reply.tool_calls == ()
    assert reply.model == "test-model"
    assert reply.stop_reason == ("end_turn" if api == "anthropic" else "stop")
    [seen] = fake.requests
    assert (seen.api, seen.key, seen.model, seen.status, seen.rule) == (
        api,
        "sk-test",
        "test-model",
        200,
        0,
    )


@pytest.mark.parametrize("api", APIS)
def test_tool_call_round_trip(fake: FakeProviderServer, api: str) -> None:
    steps = (Step.call("read_file", {"path": "inbox.md"}), Step.reply("Read both."))
    fake.set_script(Script([Rule(steps=steps)]))
    tools = (READ_FILE, NOTE)
    first = complete(fake, api, request(work(), tools=tools))
    [call] = first.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("read_file", {"path": "inbox.md"})
    assert first.text == ""

    history = (
        work(),
        Turn("assistant", first.text, first.tool_calls),
        Turn("tool", "3 mails", tool_call_id=call.id),
    )
    final = complete(fake, api, request(*history, tools=tools))
    assert final.text == "(simulated) Read both."
    assert final.tool_calls == ()
    assert [r.tools for r in fake.requests] == [("read_file", "note")] * 2
    # OpenAI counts the system message; Anthropic keeps it out of ``messages``.
    extra = 1 if api == "openai" else 0
    assert [r.message_count for r in fake.requests] == [1 + extra, 3 + extra]
    assert [r.tool_results for r in fake.requests] == [(), ("3 mails",)]
    assert fake.requests[-1].last_user_text == "Summarise the inbox."


@pytest.mark.parametrize("api", APIS)
def test_parallel_tool_results_and_errors_reach_the_api(fake: FakeProviderServer, api: str) -> None:
    fake.set_script(
        Script([Rule(times=1, steps=(Step(tool_calls=(ScriptedToolCall("note"),) * 2),))])
    )
    first = complete(fake, api, request(work(), tools=(NOTE,)))
    assert len({call.id for call in first.tool_calls}) == 2
    # Two tool results in a row, one failed: the fake refuses a conversation whose tool_use
    # ids are not all answered in the next message, so a 200 here proves the merge.
    history = (
        work(),
        Turn("assistant", "", first.tool_calls),
        Turn("tool", "ok", tool_call_id=first.tool_calls[0].id),
        Turn("tool", "disk full", tool_call_id=first.tool_calls[1].id, is_error=True),
        Turn("user", "Carry on."),
    )
    reply = complete(fake, api, request(*history, tools=(NOTE,)))
    assert reply.text == "(simulated) done: Carry on."


@pytest.mark.parametrize("api", APIS)
def test_malformed_tool_arguments_pass_through_raw(fake: FakeProviderServer, api: str) -> None:
    fake.set_script(Script([Rule(steps=(Step.call("read_file", '{"path": "inbox'),))]))
    reply = complete(fake, api, request(work(), tools=(READ_FILE,)))
    assert reply.tool_calls[0].arguments == '{"path": "inbox'


def test_anthropic_caches_the_tool_list_as_a_whole() -> None:
    tools = anthropic_tools([READ_FILE, NOTE])
    assert [tool.get("cache_control") for tool in tools] == [None, {"type": "ephemeral"}]
    assert tools[0]["input_schema"] == READ_FILE.parameters


def test_stored_malformed_arguments_are_sent_to_anthropic_as_an_empty_object() -> None:
    turns = [
        work(),
        Turn("assistant", "", (ToolCall("toolu_1", "read_file", '{"path": '),)),
        Turn("tool", "invalid arguments", tool_call_id="toolu_1", is_error=True),
    ]
    messages = anthropic_messages(turns)
    assert messages[1]["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {}}
    ]
    assert messages[2]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "is_error": True,
            "content": "invalid arguments",
        }
    ]
    # OpenAI keeps the raw text, and says the tool failed in the only place it can.
    sent = openai_messages("", turns)
    assert sent[1]["tool_calls"] == [  # type: ignore[typeddict-item]
        {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "read_file", "arguments": '{"path": '},
        }
    ]
    assert sent[2]["content"] == "[tool error] invalid arguments"


@pytest.mark.parametrize("api", APIS)
def test_usage_is_mapped_and_the_second_identical_call_reads_the_cache(
    fake: FakeProviderServer, api: str
) -> None:
    key = fresh_key()
    req = request(work(), system="You are Flow. " * 40, tools=(READ_FILE,))
    prefix = math.ceil((len(req.system) + len(_tools_json(req))) / 4)
    total = estimate_prompt_tokens(req)

    first = complete(fake, api, req, key)
    second = complete(fake, api, req, key)

    assert first.usage.prompt_tokens == second.usage.prompt_tokens == total
    assert first.usage.output_tokens == math.ceil(len(first.text) / 4)
    assert second.usage.cache_read_tokens == prefix
    assert second.usage.input_tokens == total - prefix
    if api == "anthropic":  # the system block asked for caching: the first call writes it
        assert (first.usage.cache_write_tokens, first.usage.cache_read_tokens) == (prefix, 0)
    else:  # OpenAI caches without being asked and reports only the reads
        assert (first.usage.cache_write_tokens, first.usage.cache_read_tokens) == (0, 0)


@pytest.mark.parametrize("api", APIS)
def test_a_step_can_report_a_large_prompt(fake: FakeProviderServer, api: str) -> None:
    fake.set_script(Script([Rule(steps=(Step.reply("Full.", prompt_tokens=190_000),))]))
    reply = complete(fake, api, request(work()), fresh_key())
    assert reply.usage.prompt_tokens == 190_000


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(("retry_after", "expected"), [(7, 7.0), (1.5, 1.5), (None, 60.0)])
def test_429_becomes_rate_limited_with_the_servers_wait(
    fake: FakeProviderServer, api: str, retry_after: float | None, expected: float
) -> None:
    fake.set_script(Script([Rule(steps=(Step.fail(429, "Slow down.", retry_after=retry_after),))]))
    error = failure(fake, api, request(work()))
    assert isinstance(error, RateLimited)
    assert error.retry_after == expected
    assert error.http_status == 429
    assert "Slow down." in str(error)


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("status", [529, 500, 503])
def test_overload_and_server_errors_are_transient(
    fake: FakeProviderServer, api: str, status: int
) -> None:
    fake.set_script(Script([Rule(steps=(Step.fail(status, "Overloaded"),))]))
    error = failure(fake, api, request(work()))
    assert type(error) is TransientProviderError
    assert error.http_status == status


@pytest.mark.parametrize("api", APIS)
def test_an_unreachable_endpoint_is_transient(api: str) -> None:
    with FakeProviderServer() as gone:
        pass  # stopped: its port now refuses connections
    with pytest.raises(TransientProviderError, match="unreachable"):
        complete(gone, api, request(work()))


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("status", "message"),
    [(400, "prompt is too long: 210000 tokens > 200000 maximum"), (401, "invalid x-api-key")],
)
def test_client_errors_are_permanent_and_carry_the_providers_message(
    fake: FakeProviderServer, api: str, status: int, message: str
) -> None:
    fake.set_script(Script([Rule(steps=(Step.fail(status, message),))]))
    error = failure(fake, api, request(work()))
    assert type(error) is PermanentProviderError
    assert error.http_status == status
    assert message in str(error)
    assert "Error code" not in str(error)  # the SDK's wrapper text, not the provider's words


UNREADABLE = [
    (b"[]", "the reply: expected an object, got list"),
    (b"<html>busy</html>", "reply is not JSON"),
    (b'{"choices": {"0": {}}}', "choices: expected a list"),
    (b'{"choices": [{"message": "hi"}]}', "choices[0].message: expected an object, got str"),
    (b'{"choices": [{"message": {"content": ["hi"]}}]}', "choices[0].message.content"),
    (
        b'{"choices": [{"message": {"tool_calls": [{"id": "c", "function": {"name": 3}}]}}]}',
        "tool_calls[0].function.name: expected a string",
    ),
    (
        b'{"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": -1}}',
        "usage.prompt_tokens: expected a number of tokens",
    ),
]


def answered_with(body: bytes) -> ModelReply:
    """An OpenAI call to a server that answers 200 with ``body``."""
    with WebServer() as server:
        json_type = {"Content-Type": "application/json"}
        server.routes["/v1/chat/completions"] = Route(200, body, json_type)
        provider = make_provider("openai", api_key="sk-test", base_url=server.url("/v1"))

        async def call() -> ModelReply:
            try:
                return await provider.complete(request(work()))
            finally:
                await provider.aclose()

        return asyncio.run(call())


@pytest.mark.parametrize(("body", "message"), UNREADABLE)
def test_an_openai_reply_that_is_not_a_chat_completion_fails_naming_the_field(
    body: bytes, message: str
) -> None:
    """A compatible server answering 200 with something else: a permanent error that says
    what was wrong with it, not a crash deeper in the loop."""
    with pytest.raises(PermanentProviderError, match=re.escape(message)):
        answered_with(body)


def test_an_openai_reply_with_no_choices_is_transient_and_a_minimal_one_is_read() -> None:
    with pytest.raises(TransientProviderError, match="no choices"):
        answered_with(b'{"choices": []}')
    # What a bare compatible server may send: no usage, no ids, no finish reason.
    reply = answered_with(b'{"choices": [{"message": {"content": "hi"}}]}')
    assert (reply.text, reply.tool_calls, reply.usage.input_tokens) == ("hi", (), 0)


# --- the fakes at the wire -------------------------------------------------------------------

ANTHROPIC_HEADERS = {"x-api-key": "sk-wire", "anthropic-version": "2023-06-01"}
HELLO = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def test_anthropic_fake_refuses_what_the_api_refuses(fake: FakeProviderServer) -> None:
    url = fake.url + "/v1/messages"
    no_key = httpx.post(url, json=HELLO, headers={"anthropic-version": "2023-06-01"})
    assert no_key.status_code == 401
    assert no_key.json()["error"]["type"] == "authentication_error"
    no_version = httpx.post(url, json=HELLO, headers={"x-api-key": "sk-wire"})
    assert no_version.status_code == 400
    assert "anthropic-version" in no_version.json()["error"]["message"]
    streaming = httpx.post(url, json=HELLO | {"stream": True}, headers=ANTHROPIC_HEADERS)
    assert streaming.status_code == 400
    assert streaming.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": streaming.json()["error"]["message"]},
    }
    unanswered = HELLO | {
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}],
            },
            {"role": "user", "content": "what happened?"},
        ]
    }
    refused = httpx.post(url, json=unanswered, headers=ANTHROPIC_HEADERS)
    assert refused.status_code == 400
    assert "without `tool_result`" in refused.json()["error"]["message"]
    ok = httpx.post(url, json=HELLO, headers=ANTHROPIC_HEADERS)
    assert ok.status_code == 200
    assert ok.json()["content"] == [{"type": "text", "text": "(simulated) done: hi"}]
    assert [r.status for r in fake.requests] == [401, 400, 400, 400, 200]


def test_openai_fake_refuses_what_the_api_refuses(fake: FakeProviderServer) -> None:
    url = fake.openai_base_url + "/chat/completions"
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(url, json=body).json()["error"]["type"] == "invalid_request_error"
    auth = {"authorization": "Bearer sk-wire"}
    streaming = httpx.post(url, json=body | {"stream": True}, headers=auth)
    assert streaming.status_code == 400
    assert set(streaming.json()["error"]) == {"message", "type", "param", "code"}
    no_tools = httpx.post(url, json=body | {"tools": []}, headers=auth)
    assert no_tools.status_code == 400
    fake.set_script(Script([Rule(steps=(Step.fail(429, "Rate limit reached", retry_after=3),))]))
    limited = httpx.post(url, json=body, headers=auth)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"


def test_script_can_be_replaced_and_requests_listed_over_http(fake: FakeProviderServer) -> None:
    script = {"rules": [{"key": "sk-donna", "steps": [{"text": "Donna here."}]}]}
    assert httpx.put(fake.url + "/_fake/script", json=script).json() == {"rules": 1}
    assert complete(fake, "openai", request(work()), "sk-donna").text == "(simulated) Donna here."
    assert complete(fake, "anthropic", request(work()), "sk-other").text.startswith(
        "(simulated) done:"
    )

    listed = httpx.get(fake.url + "/_fake/requests").json()["requests"]
    assert [(r["api"], r["key"], r["rule"], r["status"]) for r in listed] == [
        ("openai", "sk-donna", 0, 200),
        ("anthropic", "sk-other", None, 200),
    ]
    assert listed[0]["model"] == "test-model"
    assert httpx.delete(fake.url + "/_fake/requests").status_code == 200
    assert fake.requests == []


def test_a_bad_script_over_http_is_refused_naming_the_field(fake: FakeProviderServer) -> None:
    bad = {"rules": [{"steps": [{"error": {"status": 200}}]}]}
    response = httpx.put(fake.url + "/_fake/script", json=bad)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "rules[0].steps[0].error.status"
    not_json = httpx.put(fake.url + "/_fake/script", content=b"{rules")
    assert not_json.status_code == 400


def test_the_fake_runs_from_the_command_line(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"rules": [{"steps": [{"text": "from the CLI"}]}]}))
    command = [sys.executable, "-m", "mcos.testing.fake_providers", "--port", "0"]
    with subprocess.Popen(
        [*command, "--script", str(script)], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().split()[-1]
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            reply = httpx.post(
                url + "/v1/chat/completions", json=body, headers={"authorization": "Bearer k"}
            )
            assert reply.json()["choices"][0]["message"]["content"] == "(simulated) from the CLI"
        finally:
            proc.terminate()
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rules]]\ntimes = 0\n")
    result = subprocess.run(
        [*command, "--script", str(bad)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "rules[0].times" in result.stderr


# --- the script engine -----------------------------------------------------------------------


def test_rules_match_by_key_and_the_first_match_wins() -> None:
    script = Script(
        [
            Rule(key="sk-flow", steps=(Step.reply("Flow's answer"),)),
            Rule(key="sk-flow", steps=(Step.reply("never played"),)),
            Rule(steps=(Step.reply("everyone else"),)),
        ]
    )
    assert simulate(script, request(work()), key="sk-flow").text == "(simulated) Flow's answer"
    assert simulate(script, request(work()), key="sk-donna").text == "(simulated) everyone else"
    assert script.answered == (1, 0, 1)


def test_rules_match_by_contains_and_by_agent() -> None:
    script = Script(
        [
            Rule(contains="deploy", agent="You are Flow", steps=(Step.reply("deploying"),)),
            Rule(
                agent="You are Donna",
                steps=(Step.reply("Donna"),),
            ),
        ]
    )
    flow, donna = "You are Flow, the builder.", "You are Donna."
    earlier_deploy = (work("Please deploy."), Turn("assistant", "ok"), work("Status?"))
    assert simulate(script, request(*earlier_deploy, system=flow)).text == "(simulated) deploying"
    assert (
        simulate(script, request(work("Deploy it"), system=flow)).text
        == "(simulated) done: Deploy it"
    )
    assert (
        simulate(script, request(work("Please deploy"), system=donna)).text == "(simulated) Donna"
    )


def test_the_step_is_the_number_of_assistant_turns_since_the_last_user_turn() -> None:
    script = Script([Rule(steps=(Step.call("note"), Step.call("note"), Step.reply("two notes")))])
    call = ToolCall("c1", "note", "{}")
    round_trip = (Turn("assistant", "", (call,)), Turn("tool", "ok", tool_call_id="c1"))
    assert simulate(script, request(work())).tool_calls[0].name == "note"
    assert simulate(script, request(work(), *round_trip)).tool_calls[0].name == "note"
    assert (
        simulate(script, request(work(), *round_trip, *round_trip)).text == "(simulated) two notes"
    )
    past_the_end = request(work(), *round_trip * 3)
    assert simulate(script, past_the_end).text == "(simulated) done."
    # A new user turn starts a fresh piece of work: step 0 again.
    again = request(work(), *round_trip * 3, Turn("assistant", "done"), work("More."))
    assert simulate(script, again).tool_calls[0].name == "note"


def test_times_limits_a_rule_then_later_rules_answer() -> None:
    script = Script(
        [Rule(times=1, steps=(Step.fail(429, retry_after=12),)), Rule(steps=(Step.reply("ok"),))]
    )
    provider = SimulatedProvider(script)
    with pytest.raises(RateLimited) as caught:
        asyncio.run(provider.complete(request(work())))
    assert caught.value.retry_after == 12
    assert asyncio.run(provider.complete(request(work()))).text == "(simulated) ok"
    assert script.answered == (1, 1)


def test_simulated_replies_say_so_and_estimate_usage() -> None:
    req = request(work("x" * 200 + "\nsecond line"), tools=(READ_FILE,))
    reply = simulate(Script(), req)
    assert reply.simulated is True
    assert reply.text == "(simulated) done: " + "x" * 119 + "…"
    expected_prompt = math.ceil(
        (len(req.system) + len(_tools_json(req)) + len(req.turns[0].text)) / 4
    )
    assert reply.usage.input_tokens == reply.usage.prompt_tokens == expected_prompt
    assert reply.usage.output_tokens == math.ceil(len(reply.text) / 4)
    scripted = simulate(Script([Rule(steps=(Step.reply("hello"),))]), req)
    assert scripted.text == "(simulated) hello"


def test_a_python_script_works_arguments_out_from_the_request_and_rules_can_be_added() -> None:
    script = Script()
    script.add(
        Rule(
            contains="Committee #",
            times=1,
            steps=(
                Step.call(
                    "give_position",
                    lambda req: {"committee_id": int(req.turns[-1].text.split("#")[1][0])},
                ),
            ),
        )
    )
    reply = simulate(script, request(work("Committee #7: sign it?")))
    assert [(c.name, json.loads(c.arguments)) for c in reply.tool_calls] == [
        ("give_position", {"committee_id": 7})
    ]
    assert script.answered == (1,)
    # Its one answer given, the rule lets the default answer.
    assert simulate(script, request(work("Committee #8: again?"))).tool_calls == ()


def test_default_replies_for_memory_flush_and_compaction() -> None:
    history = (
        work("Triage the inbox.\nDetails follow."),
        Turn("assistant", "done"),
        work("Book the flight."),
        Turn("assistant", "", (ToolCall("c", "note", "{}"),)),
        Turn("tool", "ok", tool_call_id="c"),
    )
    flush = simulate(Script(), request(*history, work("[memory flush] Write down what matters.")))
    assert flush.text == "(simulated) notes to keep:\n- Triage the inbox.\n- Book the flight."
    compaction = simulate(Script(), request(*history, work("[compaction] Summarise.")))
    assert compaction.text == (
        "(simulated) summary: 2 earlier requests and 1 tool results. Latest: Book the flight."
    )
    assert simulate(Script(), request(*history, work("[compaction] Summarise."))) == compaction


def test_rules_leave_the_runtimes_flush_and_compaction_turns_to_the_default() -> None:
    busy = Rule(key="sk-atlas", steps=(Step.call("write_file"),))
    flush = request(work("Research."), work("[memory flush] Write down what matters."))
    assert simulate(Script([busy]), flush, key="sk-atlas").text.startswith("(simulated) notes")
    # ... unless a rule asks for them by their mark.
    asked = Rule(contains="[memory flush]", steps=(Step.reply("- the one thing"),))
    assert (
        simulate(Script([busy, asked]), flush, key="sk-atlas").text == "(simulated) - the one thing"
    )


def test_a_script_loads_from_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "script.toml"
    toml.write_text(
        """
[[rules]]
key = "sk-flow"
times = 2
[[rules.steps]]
tool_calls = [
  { name = "read_file", arguments = { path = "a.md" } },
  { name = "note", arguments = "{oops" },
]
[[rules.steps]]
text = "Read."
prompt_tokens = 150000
[[rules]]
[[rules.steps]]
error = { status = 529, message = "Overloaded" }
"""
    )
    script = Script.from_file(toml)
    first = simulate(script, request(work()), key="sk-flow")
    assert [(c.name, c.arguments) for c in first.tool_calls] == [
        ("read_file", '{"path": "a.md"}'),
        ("note", "{oops"),
    ]
    with pytest.raises(TransientProviderError, match="Overloaded"):
        simulate(script, request(work()), key="sk-donna")
    as_json = tmp_path / "script.json"
    as_json.write_text(json.dumps({"rules": [{"steps": [{"text": "hi", "prompt_tokens": 5}]}]}))
    assert simulate(Script.from_file(as_json), request(work())).usage.prompt_tokens == 5


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"rule": []}, "rule"),
        ({"rules": {}}, "rules"),
        ({"rules": [{"steps": [{}]}]}, "rules[0].steps[0]"),
        ({"rules": [{"steps": [{"text": "a", "error": {"status": 500}}]}]}, "rules[0].steps[0]"),
        ({"rules": [{"times": 0}]}, "rules[0].times"),
        ({"rules": [{"key": ""}]}, "rules[0].key"),
        (
            {"rules": [{"steps": [{"tool_calls": [{"arguments": {}}]}]}]},
            "rules[0].steps[0].tool_calls[0].name",
        ),
        (
            {"rules": [{"steps": [{"tool_calls": [{"name": "x", "arguments": 3}]}]}]},
            "rules[0].steps[0].tool_calls[0].arguments",
        ),
        (
            {"rules": [{"steps": [{"error": {"status": 429, "retry_after": -1}}]}]},
            "rules[0].steps[0].error.retry_after",
        ),
        (
            {"rules": [{"steps": [{"text": "a", "prompt_tokens": "many"}]}]},
            "rules[0].steps[0].prompt_tokens",
        ),
        ({"rules": [{"steps": [{"text": "a", "tokens": 3}]}]}, "rules[0].steps[0].tokens"),
    ],
)
def test_bad_scripts_name_the_field(data: object, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Script.from_dict(data)
    assert caught.value.field == field
    assert field in caught.value.message


def test_bad_script_files_say_which_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[[rules]\n")
    with pytest.raises(InvalidInput, match=r"broken\.toml is not valid TOML"):
        Script.from_file(broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"rules": [{"times": "twice"}]}')
    with pytest.raises(InvalidInput, match=r"wrong\.json: rules\[0\]\.times") as caught:
        Script.from_file(wrong)
    assert caught.value.field == "rules[0].times"
    with pytest.raises(InvalidInput, match="cannot read script file"):
        Script.from_file(tmp_path / "missing.toml")
    with pytest.raises(InvalidInput, match=r"\.toml or \.json"):
        Script.from_file(tmp_path / "script.yaml")


# --- make_provider ---------------------------------------------------------------------------


def test_make_provider_refuses_an_unknown_name_and_a_missing_key() -> None:
    with pytest.raises(InvalidInput, match="anthropic, openai, simulated") as unknown:
        make_provider("gemini", api_key="k")
    assert unknown.value.field == "provider"
    for name in ("anthropic", "openai"):
        with pytest.raises(InvalidInput, match="no API key") as missing:
            make_provider(name, api_key=None)
        assert missing.value.field == "credential"
    simulated = make_provider("simulated", api_key=None)
    assert simulated.name == "simulated"


def _tools_json(req: ModelRequest) -> str:
    specs = [
        {"name": t.name, "description": t.description, "parameters": t.parameters}
        for t in req.tools
    ]
    return json.dumps(specs, sort_keys=True) if specs else ""


@pytest.mark.parametrize(
    ("given", "problem"), [("0", "not at least 1 second"), ("soon", "not a whole number")]
)
def test_the_fakes_keep_alive_is_whole_seconds(given: str, problem: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcos.testing.fake_providers", "--keep-alive", given],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "--keep-alive" in done.stderr and problem in done.stderr
