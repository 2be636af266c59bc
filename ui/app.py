"""The Gradio chat: streaming answers with checked sources, follow-ups, filters, corpus tab.

The app calls the library only (``qa_bot`` for answers, ``ingest`` for the corpus tab) and
formats what comes back. Models load in the background at start, so the page opens at once
and the chat says what it is waiting for; any failure becomes a message, never a trace.
"""

from __future__ import annotations

import html
import logging
import re
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa_bot import Answer, QABot, SearchFilters
from qa_bot.answer.prompt import NOT_FOUND_TOKEN
from qa_bot.config import Settings, apply_offline_env
from qa_bot.models.common import ModelError
from qa_bot.types import Citation, Rewritten, Token

from .mcp_tool import LOOPBACK

if TYPE_CHECKING:
    import gradio as gr

    from ingest.pipeline import ProgressFn
    from ingest.report import IngestReport

log = logging.getLogger(__name__)

EXAMPLES = [
    "When does the UN Security Council meet?",
    "Siapa Sekretaris Jenderal NATO?",
    "How many North Korean soldiers does the United States say are in Russia?",
    "Kapan Putin berkunjung ke Pyongyang?",
]

CSS = """
.qa-cite { font-weight: 600; text-decoration: none; }
.qa-source { margin: 0.4em 0 0.8em 0; padding-left: 0.6em; border-left: 3px solid #d0d0d0; }
.qa-source mark { background: #fff3a3; padding: 0 0.1em; }
.qa-meta { color: #666; font-size: 0.9em; }
.qa-copies { color: #666; font-size: 0.9em; }
.qa-rewrite { color: #555; font-style: italic; }
"""


class BotHolder:
    """Loads the bot in a background thread; the chat waits for it or reports why it failed."""

    def __init__(self, settings: Settings, bot: QABot | None = None) -> None:
        self.settings = settings
        self._bot = bot
        self._error: str | None = None
        self._ready = threading.Event()
        if bot is not None:
            self._ready.set()

    def start(self) -> None:
        if self._ready.is_set():
            return
        threading.Thread(target=self._load, name="qa-bot-load", daemon=True).start()

    def _load(self) -> None:
        try:
            bot = QABot.from_settings(self.settings)
            try:
                bot.warm_up()
            except ModelError:
                # The model's worker crashed while reading the prompt prefix: the bot still
                # serves (a new worker answers the first question, or that question says why).
                log.exception("warming up the answer model failed")
            self._bot = bot
        except Exception as exc:  # shown to the user; the log keeps the trace
            log.exception("loading the bot failed")
            self._error = f"{type(exc).__name__}: {exc}"
        finally:
            self._ready.set()

    def get(self, timeout: float | None = None) -> QABot:
        """The bot; raises ``RuntimeError`` with a user-facing message if it is not usable."""
        if not self._ready.wait(timeout):
            raise TimeoutError("still loading")
        if self._bot is None:
            raise RuntimeError(
                f"The bot could not start ({self._error}). Check the model settings "
                "(QA_BOT_LLM_MODEL_PATH, QA_BOT_LLM_BASE_URL, QA_BOT_EMBEDDING_MODEL) and restart."
            )
        return self._bot


# ---- rendering ------------------------------------------------------------------------------
def render_answer(answer: Answer, key: str = "a") -> str:
    """HTML/Markdown for one answer: the text with each [n] linked to its source below, then
    the sources (title, source, date, url, passage with the supporting sentence marked)."""
    parts = [_link_markers(html.escape(answer.text), answer, key)]
    if answer.rewritten:
        parts.append(f'<div class="qa-rewrite">Searched for: {html.escape(answer.rewritten)}</div>')
    if answer.citations:
        parts.append("<b>Sources</b>")
        for c in answer.citations:
            title = html.escape(c.title or c.article_id)
            if c.url:
                title = (
                    f'<a href="{html.escape(c.url, quote=True)}" target="_blank" rel="noopener">{title}</a>'
                )
            meta = " · ".join(html.escape(x) for x in (c.source, c.published[:10]) if x)
            before = _clean(c.text[: c.quote_start]).rstrip()
            quote = _clean(c.text[c.quote_start : c.quote_end]).strip()
            after = _clean(c.text[c.quote_end :]).lstrip()
            passage = " ".join(x for x in (before, f"<mark>{quote}</mark>", after) if x)
            parts.append(
                f'<div class="qa-source" id="{key}-src-{c.number}"><b>[{c.number}]</b> {title}'
                + (f' <span class="qa-meta">— {meta}</span>' if meta else "")
                + f"<br>{passage}{_copies_line(c)}</div>"
            )
    return "\n\n".join(parts)


def _copies_line(c: Citation) -> str:
    """ "Same story also in: Warta Nusantara — <title>" for syndicated copies of a source."""
    if not c.copies:
        return ""
    names = []
    for copy in c.copies:
        label = html.escape(" — ".join(x for x in (copy.source, copy.title or copy.article_id) if x))
        if copy.url:
            label = (
                f'<a href="{html.escape(copy.url, quote=True)}" target="_blank" rel="noopener">{label}</a>'
            )
        names.append(label)
    return f'<br><span class="qa-copies">Same story also in: {"; ".join(names)}</span>'


def _clean(text: str) -> str:
    return html.escape(" ".join(text.split()))


def _link_markers(text: str, answer: Answer, key: str) -> str:
    cited = {c.number for c in answer.citations}

    def link(m: re.Match) -> str:
        n = int(m.group(1))
        if n not in cited:
            return m.group()
        return f'<a class="qa-cite" href="#{key}-src-{n}" title="source {n}">[{n}]</a>'

    return re.sub(r"\[(\d+)\]", link, text)


def _partial(text: str) -> str:
    # Hide the refusal token while it streams in; the checked answer replaces it anyway.
    stripped = text.strip()
    if stripped and NOT_FOUND_TOKEN.startswith(stripped[: len(NOT_FOUND_TOKEN)]):
        return "…"
    return html.escape(text)


def history_pairs(history: list) -> list[tuple[str, str]]:
    """Gradio's message list as (question, plain answer) pairs for follow-up rewriting."""
    pairs: list[tuple[str, str]] = []
    question = None
    for message in history or []:
        role = message.get("role") if isinstance(message, dict) else None
        content = _text(message.get("content") if isinstance(message, dict) else None)
        if content is None:
            continue
        if role == "user":
            question = content
        elif role == "assistant" and question is not None:
            first = content.split("\n\n")[0]
            pairs.append((question, html.unescape(re.sub(r"<[^>]+>", "", first))))
            question = None
    return pairs


def _text(content: object) -> str | None:
    """Message text: gradio 6 sends content as a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "".join(texts) if texts else None
    return None


def parse_filters(sources: list[str] | None, date_from: str, date_to: str) -> SearchFilters:
    """Filters from the chat controls; raises ``ValueError`` with a message for bad dates."""

    def day(value: str, label: str) -> date | None:
        value = (value or "").strip()
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"The {label} date {value!r} is not YYYY-MM-DD, e.g. 2024-10-29.") from None

    return SearchFilters(tuple(sources or ()), day(date_from, "from"), day(date_to, "to"))


def answer_data(
    holder: BotHolder, question: str, sources: list[str] | None, date_from: str, date_to: str
) -> dict:
    """The checked answer as data (``Answer.to_dict()``), for the ``/ask`` endpoint and the MCP
    tool; raises ``ValueError`` with a message to show (bad dates, the bot not usable)."""
    filters = parse_filters(sources, date_from, date_to)
    try:
        bot = holder.get(timeout=600)
    except TimeoutError as exc:
        raise ValueError("the models are still loading") from exc
    except RuntimeError as exc:
        raise ValueError(str(exc)) from exc
    try:
        return bot.ask(question, filters=filters).to_dict()
    except (RuntimeError, TimeoutError, ModelError) as exc:
        raise ValueError(str(exc)) from exc


# ---- the app --------------------------------------------------------------------------------
def build_app(
    settings: Settings,
    bot: QABot | None = None,
    corpus_dir: Path | None = None,
    holder: BotHolder | None = None,
) -> gr.Blocks:
    """The Gradio Blocks app. ``bot`` is injected in tests; otherwise it loads in the background
    (in ``holder`` when given, which the MCP tool shares).

    Endpoints for ``gradio_client``: ``/chat`` (streams Markdown) and ``/ask`` (the checked
    answer with its citations as data).
    """
    import gradio as gr

    from ingest.pipeline import ingest_path

    from .corpus import CorpusError, remove_article, save_uploads

    holder = holder or BotHolder(settings, bot)
    holder.start()
    corpus = Path(corpus_dir or settings.corpus_dir)
    counter = {"n": 0}
    lock = threading.Lock()

    def next_key() -> str:
        with lock:
            counter["n"] += 1
            return f"a{counter['n']}"

    def chat(message: str, history: list, sources: list[str], date_from: str, date_to: str) -> Iterator[str]:
        if not (message or "").strip():
            yield "Please type a question. / Silakan ketik pertanyaan."
            return
        try:
            filters = parse_filters(sources, date_from, date_to)
        except ValueError as exc:
            yield str(exc)
            return
        try:
            current = holder.get(timeout=0)
        except TimeoutError:
            yield "Loading the models (the first start takes up to a minute)…"
            try:
                current = holder.get(timeout=600)
            except (TimeoutError, RuntimeError) as exc:
                yield str(exc)
                return
        except RuntimeError as exc:
            yield str(exc)
            return
        if current.is_empty():
            yield "The corpus is empty: add articles in the Corpus tab, then ask again."
            return
        yield "Searching…"
        partial = ""
        rewritten = ""
        try:
            for event in current.stream(message, filters=filters, history=history_pairs(history)):
                if isinstance(event, Rewritten):
                    rewritten = f'<div class="qa-rewrite">Searching for: {html.escape(event.text)}</div>\n\n'
                    yield rewritten + "…"
                elif isinstance(event, Token):
                    partial += event.text
                    yield rewritten + _partial(partial)
                else:
                    yield render_answer(event, next_key())
        except ModelError as exc:  # the model crashed or failed: its message says what to do
            log.error("answering failed: %s", exc)
            yield html.escape(str(exc))
        except Exception as exc:  # the user sees a message; the log keeps the trace
            log.exception("answering failed")
            yield f"Something went wrong while answering ({type(exc).__name__}: {exc}). Please try again."

    def ask(question: str, sources: list[str] | None = None, date_from: str = "", date_to: str = "") -> dict:
        """The checked answer to ``question`` with its citations, as data."""
        try:
            return answer_data(holder, question, sources, date_from, date_to)
        except ValueError as exc:
            return {"error": str(exc)}

    def article_rows():
        try:
            rows = holder.get(timeout=0).articles()
        except (TimeoutError, RuntimeError):
            return [], []
        table = [[r["article_id"], r["title"], r["source"], r["published"][:10], r["chunks"]] for r in rows]
        return table, rows

    def refresh():
        table, rows = article_rows()
        ids = [r["article_id"] for r in rows]
        sources = sorted({r["source"] for r in rows if r["source"]})
        return (
            table,
            gr.update(choices=ids, value=None),
            gr.update(choices=sources),
        )

    ingest_lock = threading.Lock()

    def run_ingest(current: QABot, on_progress: ProgressFn | None = None) -> IngestReport:
        # One ingest at a time: two clicks (or two users) must not interleave their writes.
        with ingest_lock:
            return ingest_path(
                corpus,
                current.settings,
                store=current.store,
                embedder=current.embedder,
                progress=on_progress,
            )

    def reingest(files, progress=gr.Progress()):  # noqa: B008 (gradio injects progress this way)
        try:
            current = holder.get(timeout=600)
        except (TimeoutError, RuntimeError) as exc:
            return (str(exc), *refresh())
        lines = []
        if files:
            paths = [f if isinstance(f, str) else f.name for f in files]
            names = [Path(p).name for p in paths]
            try:
                saved = save_uploads(paths, names, corpus)
            except CorpusError as exc:
                return (f"Upload refused: {exc}", *refresh())
            lines.append("Added to the corpus: " + ", ".join(saved))

        def on_progress(done: int, total: int, label: str) -> None:
            progress((done, total), desc=f"embedding {done}/{total} chunks")

        progress(0, desc="reading the corpus")
        try:
            report = run_ingest(current, on_progress)
        except Exception as exc:  # shown in the report box; the log keeps the trace
            log.exception("ingest failed")
            return (f"Ingest failed ({type(exc).__name__}: {exc})", *refresh())
        lines.append(report.render())
        return ("\n".join(lines), *refresh())

    def remove(article_id: str) -> tuple[Any, ...]:
        if not article_id:
            return ("Choose an article to remove.", *refresh())
        rows = {r["article_id"]: r for r in article_rows()[1]}
        if article_id not in rows:
            return (f"{article_id} is not in the store.", *refresh())
        try:
            done = remove_article(article_id, rows[article_id]["path"], corpus)
        except CorpusError as exc:
            return (str(exc), *refresh())
        try:
            report = run_ingest(holder.get(timeout=0))
        except Exception as exc:
            log.exception("ingest failed")
            return (f"{done}\nIngest failed ({type(exc).__name__}: {exc})", *refresh())
        return (f"{done}\n{report.render()}", *refresh())

    with gr.Blocks(title="Tanya Berita — news QA") as app:
        gr.Markdown(
            "## Tanya Berita\nAsk about the news in Indonesian or English. Every answer cites the "
            "sentence it rests on; when the news does not say, the bot says so."
        )
        with gr.Tab("Chat"):
            with gr.Accordion("Filters", open=False):
                with gr.Row():
                    source_filter = gr.Dropdown(
                        label="Sources", choices=[], multiselect=True, allow_custom_value=True
                    )
                    date_from = gr.Textbox(label="Published from (YYYY-MM-DD)", max_lines=1)
                    date_to = gr.Textbox(label="Published to (YYYY-MM-DD)", max_lines=1)
            gr.ChatInterface(
                chat,
                chatbot=gr.Chatbot(height=560, label="Tanya Berita"),
                additional_inputs=[source_filter, date_from, date_to],
                # None for the filters: the examples then show as buttons on the empty chat.
                examples=[[q, None, None, None] for q in EXAMPLES],
                api_name="chat",
                fill_height=False,
            )
        with gr.Tab("Corpus"):
            gr.Markdown(
                f"Articles live in `{html.escape(str(corpus))}`. Add .txt, .md, .jsonl or .html files."
            )
            uploads = gr.File(
                label="Add articles",
                file_count="multiple",
                file_types=[".txt", ".md", ".jsonl"],
                elem_id="qa-uploads",
            )
            ingest_button = gr.Button("Add and re-ingest", variant="primary")
            report_box = gr.Textbox(label="Ingest report", lines=6, interactive=False)
            articles = gr.Dataframe(
                headers=["id", "title", "source", "published", "chunks"],
                interactive=False,
                wrap=True,
                column_widths=["22%", "44%", "14%", "12%", "8%"],
            )
            with gr.Row():
                # Choices arrive with the page; custom values let API callers name any id.
                remove_choice = gr.Dropdown(label="Article to remove", choices=[], allow_custom_value=True)
                remove_button = gr.Button("Remove article", variant="stop")
        with gr.Row(visible=False):
            api_question = gr.Textbox()
            api_sources = gr.Dropdown(multiselect=True, choices=[], allow_custom_value=True)
            api_from = gr.Textbox()
            api_to = gr.Textbox()
            api_answer = gr.JSON()
        api_question.submit(ask, [api_question, api_sources, api_from, api_to], api_answer, api_name="ask")
        outputs = [articles, remove_choice, source_filter]
        # One progress bar, on the report, instead of one over every output.
        ingest_button.click(
            reingest, uploads, [report_box, *outputs], api_name="reingest", show_progress_on=[report_box]
        )
        remove_button.click(
            remove, remove_choice, [report_box, *outputs], api_name="remove", show_progress_on=[report_box]
        )
        app.load(refresh, None, outputs)
    return app


def launch(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve the chat, and the MCP tool at /mcp/ (:mod:`ui.mcp_tool`); binding beyond loopback
    requires a login (QA_BOT_APP_AUTH) and serves the MCP tool only with QA_BOT_MCP_TOKEN."""
    apply_offline_env()
    options = serve_options(settings, host)
    holder = BotHolder(settings)
    app = build_app(settings, holder=holder)
    app.queue(default_concurrency_limit=2).launch(
        server_port=port or settings.app_port, app_kwargs=mcp_app_kwargs(holder, settings, options), **options
    )


def mcp_app_kwargs(holder: BotHolder, settings: Settings, options: dict) -> dict:
    """Gradio ``app_kwargs`` serving the MCP tool beside the chat (tests serve with these)."""
    from .mcp_tool import app_kwargs

    def ask(question: str, sources: list[str], date_from: str, date_to: str) -> dict:
        return answer_data(holder, question, sources, date_from, date_to)

    return app_kwargs(ask, options["server_name"], settings.mcp_token)


def serve_options(settings: Settings, host: str | None = None) -> dict:
    """Gradio ``launch`` options that decide what the app exposes (tests serve with these).

    Loopback unless told otherwise, and then only behind a login; uploads capped; the store
    and model folders never served even if a Gradio default changes (Gradio serves only
    its own upload folder and the paths allowed to it, and we allow none).
    """
    host = host or settings.app_host
    auth = None
    if settings.app_auth:
        user, _, password = settings.app_auth.partition(":")
        auth = (user, password)
    if host not in LOOPBACK and auth is None:
        raise SystemExit(
            f"qa-bot: refusing to serve on {host} without a login: set QA_BOT_APP_AUTH=user:password "
            "(or bind to 127.0.0.1)"
        )
    return {
        "server_name": host,
        "auth": auth,
        "show_error": False,
        "css": CSS,
        "max_file_size": f"{settings.max_upload_mb:g}mb",
        "blocked_paths": [str(Path(settings.store_dir).resolve()), str(Path(settings.cache_dir).resolve())],
    }
