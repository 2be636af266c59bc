"""The news archive as an MCP tool, served by the chat app at ``/mcp/`` (streamable HTTP).

AI assistants (Claude Desktop, VS Code, any MCP client) call ``ask_news`` with a question and
optional filters and get the checked answer with its citations as structured data.

Served with the ``mcp`` SDK's FastMCP mounted inside Gradio's own server rather than with
Gradio's built-in MCP server: that one turns every public endpoint into a tool (uploading
and removing articles included), returns dicts as Python text without a schema, is not
covered by the app's login, and its ``gradio[mcp]`` extra pins pydantic below the version
the rest of the stack uses.

The MCP endpoint has no login of its own: it is served when the app listens on loopback, or
elsewhere only with ``QA_BOT_MCP_TOKEN`` set (clients then send ``Authorization: Bearer
<token>``).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PATH = "/mcp"


SOURCES = "Only articles of these outlets (as the archive names them); empty: all"
FROM = "Only articles published on or after this day, YYYY-MM-DD; empty: no limit"
TO = "Only articles published on or before this day, YYYY-MM-DD; empty: no limit"


class CitationOut(BaseModel):
    n: int = Field(description="The number the answer shows as [n]")
    quote: str = Field(description="The sentence(s) of the passage that back the answer")
    text: str = Field(description="The whole cited passage")
    title: str
    source: str = Field(description="The news outlet")
    url: str
    published: str = Field(description="Publication date, YYYY-MM-DD ('' when unknown)")
    article_id: str


class AskResult(BaseModel):
    answer: str = Field(description="The answer, with [n] markers referring to citations")
    found: bool = Field(description="False when the archive does not hold the answer")
    language: str = Field(description="The answer's language: 'id' or 'en'")
    citations: list[CitationOut]


def result_of(answer: dict) -> AskResult:
    """The tool's result from ``Answer.to_dict()``."""
    return AskResult(
        answer=answer["text"],
        found=answer["found"],
        language=answer["language"],
        citations=[
            CitationOut(
                n=c["number"],
                quote=c["quote"],
                text=c["text"],
                title=c["title"],
                source=c["source"],
                url=c["url"],
                published=(c["published"] or "")[:10],
                article_id=c["article_id"],
            )
            for c in answer["citations"]
        ],
    )


def build_server(ask: Callable[[str, list[str], str, str], dict], host: str = "127.0.0.1") -> Any:
    """A FastMCP server with the ``ask_news`` tool over ``ask(question, sources, from, to)``
    (which returns ``Answer.to_dict()`` or raises ``ValueError`` with a message to show).

    A new server per app: its session manager can be started only once.
    """
    from mcp.server.fastmcp import FastMCP
    from mcp.server.fastmcp.exceptions import ToolError

    # host= binds nothing: on loopback it turns on the SDK's DNS-rebinding protection (only
    # loopback Host and Origin headers); log_level: FastMCP would otherwise set the whole
    # app's logging to INFO.
    server = FastMCP(
        "qa-bot news archive",
        host=host,
        stateless_http=True,
        streamable_http_path="/",
        log_level="WARNING",
    )
    # The model answers one question at a time per worker; as many at once as the chat's queue.
    limiter = anyio.CapacityLimiter(2)

    @server.tool()
    async def ask_news(
        question: Annotated[str, Field(description="The question, in Indonesian or English")],
        sources: Annotated[list[str], Field(description=SOURCES)] = [],  # noqa: B006 (read, never mutated)
        published_from: Annotated[str, Field(description=FROM)] = "",
        published_to: Annotated[str, Field(description=TO)] = "",
    ) -> AskResult:
        """Answer a question from the Indonesian news archive. The answer cites the passages
        it rests on ([n] -> citations[n-1]); found=false means the archive does not say."""
        try:
            # In a worker thread: answering takes seconds and must not stall the app's server.
            answer = await anyio.to_thread.run_sync(
                ask, question, list(sources), published_from, published_to, limiter=limiter
            )
        except ValueError as exc:
            raise ToolError(str(exc)) from exc
        return result_of(answer)

    return server


def app_kwargs(
    ask: Callable[[str, list[str], str, str], dict], host: str, token: str | None
) -> dict[str, Any]:
    """Gradio ``launch(app_kwargs=...)`` that add the MCP endpoint to the app's own server;
    empty (no endpoint) when the app listens beyond loopback and no token is set."""
    from starlette.routing import Mount

    if host not in LOOPBACK and not token:
        log.warning("the MCP tool is not served on %s: set QA_BOT_MCP_TOKEN to serve it there", host)
        return {}
    server = build_server(ask, host)
    endpoint = server.streamable_http_app()

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        # Starlette does not run a mounted app's lifespan: the session manager starts here.
        async with server.session_manager.run():
            yield

    if token:
        endpoint = _BearerOnly(endpoint, token)
    return {"routes": [Mount(PATH, app=endpoint)], "lifespan": lifespan}


_UNAUTHORISED = b"MCP: send the header Authorization: Bearer <the QA_BOT_MCP_TOKEN of the app>"


class _BearerOnly:
    """An ASGI wrapper that answers 401 unless the request carries the token."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or ()).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"text/plain")],
                    }
                )
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"MCP: send Authorization: Bearer <QA_BOT_MCP_TOKEN>",
                    }
                )
                return
        await self.app(scope, receive, send)
