"""The minimal chat app, called through gradio_client (scripted LLM: the UI is under test)."""

import socket

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from qa_bot import QABot


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(retriever, founding_settings):
    from ui.app import build_app

    llm = FakeListChatModel(responses=["Sekretaris Jenderal NATO adalah Mark Rutte [1]."])
    app = build_app(QABot(retriever, llm, founding_settings))
    port = free_port()
    app.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    app.close()


def test_ask_endpoint_returns_answer_and_citations_as_data(app_url):
    from gradio_client import Client

    data = Client(app_url, verbose=False).predict("Siapa Sekretaris Jenderal NATO?", api_name="/ask")
    assert data["text"] == "Sekretaris Jenderal NATO adalah Mark Rutte [1]."
    assert data["citations"][0]["number"] == 1
    assert "Mark Rutte" in data["citations"][0]["quote"]


def test_chat_endpoint_renders_sources_with_the_quote_marked(app_url):
    from gradio_client import Client

    reply = Client(app_url, verbose=False).predict("Siapa Sekretaris Jenderal NATO?", api_name="/chat")
    assert reply.startswith("Sekretaris Jenderal NATO adalah Mark Rutte [1].\n\n**Sources**\n[1] ")
    assert "<mark>Sekretaris Jenderal NATO Mark Rutte mengatakan" in reply
