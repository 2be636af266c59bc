"""A minimal Gradio chat over :class:`qa_bot.QABot` (streaming, with sources under each answer)."""

from __future__ import annotations

import html
from collections.abc import Iterator

from qa_bot import Answer, QABot
from qa_bot.bot import Token
from qa_bot.config import Settings, apply_offline_env

EXAMPLES = [
    "When does the UN Security Council meet?",
    "Siapa Sekretaris Jenderal NATO?",
    "Berapa tentara Korea Utara yang dideteksi intelijen Korea Selatan?",
]


def render_answer(answer: Answer) -> str:
    """Markdown: the answer, then each citation's passage with its supporting sentence marked."""
    if not answer.citations:
        return answer.text
    lines = [answer.text, "", "**Sources**"]
    for c in answer.citations:
        meta = " · ".join(x for x in (c.source, c.published[:10]) if x)
        title = html.escape(c.title or c.article_id)
        link = f"[{title}]({c.url})" if c.url else title
        # <mark>, not **bold**: Markdown will not close ** between "." and a letter.
        before = _md(c.text[: c.quote_start]).rstrip()
        quote = _md(c.text[c.quote_start : c.quote_end]).strip()
        after = _md(c.text[c.quote_end :]).lstrip()
        passage = " ".join(x for x in (before, f"<mark>{quote}</mark>", after) if x)
        lines.append(f"[{c.number}] {link}" + (f" — {meta}" if meta else ""))
        lines.append(f"> {passage}")
        lines.append("")
    return "\n".join(lines)


def _md(text: str) -> str:
    return html.escape(" ".join(text.split())).replace("*", r"\*")


def build_app(bot: QABot):
    """The Gradio Blocks app; its ``/chat`` endpoint streams the answer as Markdown."""
    import gradio as gr

    def chat(message: str, history: list) -> Iterator[str]:
        if not message.strip():
            yield "Please type a question. / Silakan ketik pertanyaan."
            return
        partial = ""
        for event in bot.stream(message):
            if isinstance(event, Token):
                partial += event.text
                yield partial
            else:
                yield render_answer(event)

    def answer_data(question: str) -> dict:
        """The checked answer with its citations as data (for gradio_client)."""
        return bot.ask(question).to_dict()

    with gr.Blocks(title="Tanya Berita — news QA") as app:
        gr.Markdown(
            "## Tanya Berita\nAsk about the news in Indonesian or English. Answers cite their sources."
        )
        gr.ChatInterface(chat, examples=EXAMPLES, api_name="chat")
        with gr.Row(visible=False):
            q = gr.Textbox()
            out = gr.JSON()
        q.submit(answer_data, q, out, api_name="ask")
    return app


def launch(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Load the bot and serve the chat (127.0.0.1 unless told otherwise)."""
    apply_offline_env()
    bot = QABot.from_settings(settings, require_documents=True)
    bot.warm_up()
    app = build_app(bot)
    app.queue(default_concurrency_limit=1).launch(
        server_name=host or "127.0.0.1", server_port=port or 7860, show_error=False
    )
