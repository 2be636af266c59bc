"""The chat app's MCP tool, called as an AI assistant would: the official ``mcp`` client over
streamable HTTP on 127.0.0.1. One app with the stand-in models (fast), one with the real
models."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import FOUNDING, free_port
from tests.fakes import ScriptedChat, fake_bot

MEETING = "Kapan pertemuan Dewan Keamanan PBB berlangsung?"


def serve(settings, bot, corpus, host_options=None):
    """The app as ``qa-bot serve`` runs it (chat + MCP), on a free loopback port."""
    from ui.app import BotHolder, build_app, mcp_app_kwargs, serve_options

    holder = BotHolder(settings, bot)
    app = build_app(settings, corpus_dir=corpus, holder=holder)
    options = serve_options(settings)
    port = free_port()
    app.queue().launch(
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        app_kwargs=mcp_app_kwargs(holder, settings, host_options or options),
        **options,
    )
    return app, f"http://127.0.0.1:{port}"


async def call(url: str, arguments: dict, headers: dict | None = None):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    # An answer takes seconds on 2 cores: httpx's 5 s default would cut the call.
    client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(600))
    async with client, streamable_http_client(f"{url}/mcp/", http_client=client) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = (await session.list_tools()).tools
            return tools, await session.call_tool("ask_news", arguments)


@pytest.fixture(scope="module")
def fake_app(settings_factory, founding_corpus):
    settings = settings_factory(answer_cache=0)
    reply = "Pertemuan Dewan Keamanan PBB berlangsung pada Rabu (30/10) setelah pukul 15.00 [{n}]."
    bot = fake_bot(settings, founding_corpus, ScriptedChat(script={MEETING: ("Rabu (30/10)", reply)}))
    app, url = serve(settings, bot, founding_corpus)
    yield url
    app.close()


def test_the_tool_is_listed_with_its_filters_and_result_schema(fake_app):
    tools, _ = asyncio.run(call(fake_app, {"question": MEETING}))
    assert [t.name for t in tools] == ["ask_news"]  # upload/remove are not tools
    schema = tools[0].inputSchema["properties"]
    assert set(schema) == {"question", "sources", "published_from", "published_to"}
    assert "YYYY-MM-DD" in schema["published_from"]["description"]
    assert {"answer", "found", "citations"} <= set(tools[0].outputSchema["properties"])


def test_the_tool_answers_with_citations(fake_app):
    _, result = asyncio.run(call(fake_app, {"question": MEETING}))
    assert not result.isError
    data = result.structuredContent
    assert data["found"] and data["answer"].endswith("[1].")
    first = data["citations"][0]
    assert first["n"] == 1 and "Rabu (30/10) setelah pukul 15.00" in first["quote"]
    assert first["article_id"] == FOUNDING.stem and first["published"] == "2024-10-29"


def test_the_tool_applies_filters_and_refuses_outside_them(fake_app):
    later = {"question": MEETING, "published_from": "2025-01-01"}
    _, result = asyncio.run(call(fake_app, later))
    assert not result.isError and not result.structuredContent["found"]
    assert result.structuredContent["citations"] == []


def test_a_bad_date_is_an_error_that_says_the_format(fake_app):
    _, result = asyncio.run(call(fake_app, {"question": MEETING, "published_to": "29-10-2024"}))
    assert result.isError
    assert "YYYY-MM-DD" in result.content[0].text


def test_a_foreign_host_header_is_refused(fake_app):
    """DNS rebinding: a web page on another name must not reach the loopback tool."""
    reply = httpx.post(f"{fake_app}/mcp/", headers={"Host": "evil.example"}, json={})
    assert reply.status_code == 421


def test_off_loopback_the_tool_needs_the_token(settings_factory, founding_corpus, caplog):
    from ui.app import BotHolder, mcp_app_kwargs

    settings = settings_factory()
    holder = BotHolder(settings, object())
    assert mcp_app_kwargs(holder, settings, {"server_name": "0.0.0.0"}) == {}
    assert "QA_BOT_MCP_TOKEN" in caplog.text
    guarded = settings_factory(mcp_token="s3cret")
    assert "routes" in mcp_app_kwargs(holder, guarded, {"server_name": "0.0.0.0"})


def test_with_a_token_a_client_without_it_is_refused(settings_factory, founding_corpus):
    settings = settings_factory(answer_cache=0, mcp_token="s3cret")
    bot = fake_bot(settings, founding_corpus, ScriptedChat())
    app, url = serve(settings, bot, founding_corpus)
    try:
        assert httpx.post(f"{url}/mcp/", json={}).status_code == 401
        _, result = asyncio.run(
            call(url, {"question": "Siapa juara Piala Dunia?"}, {"Authorization": "Bearer s3cret"})
        )
        assert not result.isError and not result.structuredContent["found"]
    finally:
        app.close()


@pytest.mark.slow
def test_the_tool_with_the_real_models(founding_settings, founding_corpus, embedder, llm):
    from tests.conftest import bot_for

    app, url = serve(founding_settings, bot_for(founding_settings, embedder, llm), founding_corpus)
    try:
        _, result = asyncio.run(call(url, {"question": "When does the UN Security Council meet?"}))
    finally:
        app.close()
    data = result.structuredContent
    assert data["found"] and "30" in data["answer"] and data["language"] == "en"
    assert "Rabu (30/10)" in data["citations"][0]["quote"]
