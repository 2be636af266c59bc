"""The Gradio chat: streaming answers with checked sources, follow-ups, filters, corpus tab.

The app calls the library only (``qa_bot`` for answers, ``ingest`` for the corpus tab) and
formats what comes back. Models load in the background at start, so the page opens at once
and the chat says what it is waiting for; any failure becomes a message, never a trace.
"""

from __future__ import annotations

import html
import logging
import queue
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa_bot import Answer, QABot, SearchFilters
from qa_bot.config import Settings, apply_offline_env
from qa_bot.models.common import ModelError
from qa_bot.text import detect_language
from qa_bot.types import CorpusSummary, Rewritten, Token

from . import render
from .mcp_tool import LOOPBACK
from .page import CSS, HEAD, i18n, page_options

if TYPE_CHECKING:
    import gradio as gr

    from ingest.pipeline import ProgressFn
    from ingest.report import IngestReport

log = logging.getLogger(__name__)

__all__ = ["CSS", "HEAD", "BotHolder", "build_app", "launch", "page_options", "render_answer"]

EXAMPLES = [
    "When does the UN Security Council meet?",
    "Siapa Sekretaris Jenderal NATO?",
    "How many North Korean soldiers does the United States say are in Russia?",
    "Kapan Putin berkunjung ke Pyongyang?",
]

# How often the chat redraws "Searching… N s" while it waits for the first checked sentence.
TICK_S = 0.5


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
def render_answer(answer: Answer, key: str = "a", summary: CorpusSummary | None = None) -> str:
    """HTML for one answer (see :func:`ui.render.render_answer`)."""
    return render.render_answer(answer, key, summary)


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
            pairs.append((question, render.plain_answer(content)))
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


def _label(row: dict) -> str:
    """An article as the remove list names it: its title and date (its id when untitled)."""
    return " — ".join(x for x in (row["title"] or row["article_id"], row["published"][:10]) if x)


def chat_filters(sources: list[str] | None, date_from: str, date_to: str) -> tuple[SearchFilters | None, str]:
    """Filters from the chat controls, or a message in Indonesian and English saying what is
    wrong with a date the user typed."""
    start, bad_start = render.parse_day(date_from, "from")
    end, bad_end = render.parse_day(date_to, "to")
    problems = [p for p in (bad_start, bad_end) if p]
    if not problems and start and end and start > end:
        problems.append(render.both("date_order", start=start, end=end).replace(" / ", "\n"))
    if problems:
        return None, "\n\n".join(problems)
    return SearchFilters(tuple(sources or ()), start, end), ""


def _events(current: QABot, message: str, filters: SearchFilters, history: list) -> Iterator[object]:
    """The bot's stream events from a worker thread, with ``None`` every ``TICK_S`` seconds
    while nothing comes (the chat redraws its elapsed time then)."""
    events: queue.Queue[tuple[str, object]] = queue.Queue()
    stop = threading.Event()

    def run() -> None:
        stream = current.stream(message, filters=filters, history=history_pairs(history))
        try:
            for event in stream:
                if stop.is_set():  # the asker left (or pressed stop): free the model
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()
                    break
                events.put(("event", event))
        except BaseException as exc:  # re-raised in the chat's thread
            events.put(("error", exc))
        finally:
            events.put(("end", None))

    threading.Thread(target=run, name="qa-answer", daemon=True).start()
    try:
        while True:
            try:
                kind, item = events.get(timeout=TICK_S)
            except queue.Empty:
                yield None
                continue
            if kind == "end":
                return
            if kind == "error":
                assert isinstance(item, BaseException)
                raise item
            yield item
    finally:
        stop.set()


def _write_feedback(store_dir: Path, *, rating: str, answer: dict, comment: str, generation: int) -> None:
    from qa_bot.feedback import record_feedback

    record_feedback(store_dir, rating=rating, answer=answer, comment=comment, generation=generation)


class AnswerLog:
    """The answers shown, by their key in the rendered message (feedback finds them by it)."""

    def __init__(self, keep: int = 2000) -> None:
        self._items: OrderedDict[str, tuple[dict, int]] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def new_key(self) -> str:
        return "qa" + secrets.token_hex(5)

    def put(self, key: str, answer: dict, generation: int) -> None:
        with self._lock:
            self._items[key] = (answer, generation)
            while len(self._items) > self._keep:
                self._items.popitem(last=False)

    def get(self, key: str | None) -> tuple[dict, int] | None:
        with self._lock:
            return self._items.get(key or "")


def record_like(
    store_dir: Path, answers: AnswerLog, message: object, liked: object, comment: str = ""
) -> dict | None:
    """Store a thumbs up/down on the rendered ``message``; returns what was recorded (None when
    the message is not a known answer, e.g. a plain message or one from before a restart)."""
    key = render.answer_key(message)
    found = answers.get(key)
    if found is None:
        return None
    answer, generation = found
    rating = "up" if liked is True or liked == "up" else "down"
    _write_feedback(store_dir, rating=rating, answer=answer, comment=comment, generation=generation)
    return {"key": key, "rating": rating}


# ---- the app --------------------------------------------------------------------------------
def build_app(
    settings: Settings,
    bot: QABot | None = None,
    corpus_dir: Path | None = None,
    holder: BotHolder | None = None,
) -> gr.Blocks:
    """The Gradio Blocks app. ``bot`` is injected in tests; otherwise it loads in the background
    (in ``holder`` when given, which the MCP tool shares).

    Endpoints for ``gradio_client``: ``/chat`` (streams HTML) and ``/ask`` (the checked
    answer with its citations as data). Launch it with :func:`ui.page.page_options`.
    """
    import gradio as gr

    from ingest.pipeline import ingest_path

    from .corpus import CorpusError, remove_article, save_uploads

    holder = holder or BotHolder(settings, bot)
    holder.start()
    corpus = Path(corpus_dir or settings.corpus_dir)
    answers = AnswerLog()
    limit = int(getattr(settings, "max_question_chars", 2000) or 2000)
    t = i18n()

    def summary_now() -> CorpusSummary | None:
        try:
            return holder.get(timeout=0).summary()
        except Exception:  # not loaded yet, or the store cannot be read: no coverage line
            return None

    def chat(message: str, history: list, sources: list[str], date_from: str, date_to: str) -> Iterator[str]:
        message = message or ""
        language = detect_language(message) if message.strip() else "id"
        if not message.strip():
            yield render.both("empty_question")
            return
        if len(message) > limit:
            yield render.msg(language, "too_long", n=len(message), limit=limit)
            return
        filters, problem = chat_filters(sources, date_from, date_to)
        if filters is None:
            yield html.escape(problem).replace("\n", "<br>")
            return
        try:
            current = holder.get(timeout=0)
        except TimeoutError:
            yield render.msg(language, "loading")
            try:
                current = holder.get(timeout=600)
            except (TimeoutError, RuntimeError) as exc:
                yield str(exc)
                return
        except RuntimeError as exc:
            yield str(exc)
            return
        if current.is_empty():
            yield render.msg(language, "empty_corpus")
            return
        started = time.monotonic()
        yield render.progress_html(0, language)
        partial = ""
        rewritten = ""
        try:
            for event in _events(current, message, filters, history):
                if event is None or isinstance(event, Rewritten):
                    if isinstance(event, Rewritten):
                        rewritten = event.text
                    if partial:
                        continue
                    yield render.progress_html(time.monotonic() - started, language, rewritten)
                elif isinstance(event, Token):
                    partial += event.text
                    yield render.partial_html(partial, language, rewritten)
                elif isinstance(event, Answer):
                    key = answers.new_key()
                    try:
                        generation = current.generation()
                    except Exception:
                        generation = -1
                    answers.put(key, event.to_dict(), generation)
                    summary = None if event.found else summary_now()
                    yield render.render_answer(event, key, summary)
        except ModelError as exc:  # the model crashed or failed: its message says what to do
            log.error("answering failed: %s", exc)
            yield html.escape(str(exc))
        except Exception as exc:  # the user sees a message; the log keeps the trace
            log.exception("answering failed")
            yield html.escape(render.msg(language, "failed", error=f"{type(exc).__name__}: {exc}"))

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
        table = [[r["title"], r["source"], r["published"][:10], r["chunks"], r["article_id"]] for r in rows]
        return table, rows

    def refresh():
        table, rows = article_rows()
        choices = [(_label(r), r["article_id"]) for r in rows]
        sources = sorted({r["source"] for r in rows if r["source"]})
        return (
            table,
            gr.update(choices=choices, value=None),
            gr.update(choices=sources),
        )

    def coverage() -> str:
        return render.coverage_html(summary_now())

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

    def reingest(files, title=None, source=None, published=None, progress=gr.Progress()):  # noqa: B008 (gradio injects progress this way)
        try:
            current = holder.get(timeout=600)
        except (TimeoutError, RuntimeError) as exc:
            return (str(exc), *refresh())
        lines = []
        if files:
            paths = [f if isinstance(f, str) else f.name for f in files]
            names = [Path(p).name for p in paths]
            day, problem = render.parse_day(published, "from")
            if problem:
                return (problem.replace("'from' ", "").replace("awal ", ""), *refresh())
            meta = {"title": (title or "").strip(), "source": (source or "").strip()}
            meta["published"] = day.isoformat() if day else ""
            try:
                saved = save_uploads(paths, names, corpus, meta={k: v for k, v in meta.items() if v})
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

    def after_ingest(report: str) -> tuple[Any, ...]:
        # The upload form is emptied once its files are in the corpus.
        if report.startswith("Added to the corpus"):
            return None, "", "", "", coverage()
        return gr.update(), gr.update(), gr.update(), gr.update(), coverage()

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

    def on_like(data: gr.LikeData) -> tuple[Any, ...]:
        recorded = record_like(Path(settings.store_dir), answers, data.value, data.liked)
        if recorded is None:
            log.info("feedback on a message that is not a known answer: %.200r", data.value)
            return None, gr.update(visible=False)
        return recorded, gr.update(visible=True)

    # gradio finds the LikeData parameter by its annotation, which must be the class itself
    # (this module's annotations are strings, and ``gr`` is imported here, not globally).
    on_like.__annotations__["data"] = gr.LikeData

    def on_comment(pending: dict | None, comment: str) -> tuple[Any, ...]:
        if pending and (comment or "").strip():
            found = answers.get(pending.get("key"))
            if found is not None:
                _write_feedback(
                    Path(settings.store_dir),
                    rating=pending["rating"],
                    answer=found[0],
                    comment=comment.strip(),
                    generation=found[1],
                )
        return None, "", gr.update(visible=False)

    with gr.Blocks(title="Tanya Berita — news QA") as app:
        gr.Markdown(t("intro"))
        with gr.Tab(t("chat_tab"), id="chat"):
            coverage_box = gr.HTML(render.coverage_html(None), elem_id="qa-coverage")
            with gr.Accordion(t("filters"), open=False):
                with gr.Row():
                    source_filter = gr.Dropdown(
                        label=t("sources"), choices=[], multiselect=True, allow_custom_value=True
                    )
                    date_from = gr.Textbox(label=t("date_from"), max_lines=1, placeholder="2024-10-29")
                    date_to = gr.Textbox(label=t("date_to"), max_lines=1, placeholder="2024-10-31")
            chatbot = gr.Chatbot(height=560, label="Tanya Berita", show_label=False, elem_id="qa-chat")
            gr.ChatInterface(
                chat,
                chatbot=chatbot,
                textbox=gr.Textbox(
                    placeholder=t("placeholder"),
                    show_label=False,
                    max_length=limit,
                    max_lines=6,
                    elem_id="qa-question",
                    submit_btn=True,
                    stop_btn=True,
                    scale=7,
                    autofocus=True,
                ),
                additional_inputs=[source_filter, date_from, date_to],
                # None for the filters: the examples then show as buttons on the empty chat.
                examples=[[q, None, None, None] for q in EXAMPLES],
                api_name="chat",
                fill_height=False,
                save_history=True,
            )
            gr.HTML(
                f'<div id="qa-counter" class="qa-counter" data-limit="{limit}">'
                f"{render.counter_text(0, limit)}</div>"
            )
            pending = gr.State(None)
            with gr.Row(visible=False, elem_id="qa-feedback") as feedback_row:
                comment_box = gr.Textbox(label=t("comment"), max_lines=3, scale=4)
                comment_button = gr.Button(t("send_comment"), variant="secondary", scale=1)
        with gr.Tab(t("corpus_tab"), id="corpus"):
            folder = html.escape(str(corpus))
            gr.HTML(
                f'<p><span class="qa-id">Artikel disimpan di <code>{folder}</code>. Tambahkan berkas '
                f'.txt, .md atau .jsonl.</span><span class="qa-en">Articles live in <code>{folder}</code>. '
                "Add .txt, .md or .jsonl files.</span></p>"
            )
            uploads = gr.File(
                label=t("add_articles"),
                file_count="multiple",
                file_types=[".txt", ".md", ".jsonl"],
                elem_id="qa-uploads",
            )
            with gr.Row():
                meta_title = gr.Textbox(label=t("meta_title"), max_lines=1, elem_id="qa-meta-title")
                meta_source = gr.Textbox(label=t("meta_source"), max_lines=1, elem_id="qa-meta-source")
                meta_published = gr.Textbox(
                    label=t("meta_published"),
                    max_lines=1,
                    placeholder="2024-10-29",
                    elem_id="qa-meta-published",
                )
            ingest_button = gr.Button(t("ingest"), variant="primary")
            report_box = gr.Textbox(label=t("report"), lines=6, interactive=False, elem_id="qa-report")
            articles = gr.Dataframe(
                headers=["title", "outlet", "published", "chunks", "id"],
                interactive=False,
                wrap=True,
                column_widths=["46%", "14%", "12%", "8%", "20%"],
                elem_id="qa-articles",
            )
            with gr.Row():
                # Choices arrive with the page; custom values let API callers name any id.
                remove_choice = gr.Dropdown(
                    label=t("remove_choice"), choices=[], allow_custom_value=True, elem_id="qa-remove-choice"
                )
                remove_button = gr.Button(t("remove"), variant="secondary", size="sm", elem_id="qa-remove")
            with gr.Row(visible=False, elem_id="qa-remove-confirm") as confirm_row:
                gr.Markdown(t("confirm_text"))
                confirm_button = gr.Button(
                    t("confirm_remove"), variant="stop", size="sm", elem_id="qa-remove-yes"
                )
                cancel_button = gr.Button(t("cancel"), variant="secondary", size="sm")
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
            reingest,
            [uploads, meta_title, meta_source, meta_published],
            [report_box, *outputs],
            api_name="reingest",
            show_progress_on=[report_box],
        ).then(after_ingest, report_box, [uploads, meta_title, meta_source, meta_published, coverage_box])
        remove_button.click(lambda: gr.update(visible=True), None, confirm_row, api_visibility="private")
        cancel_button.click(lambda: gr.update(visible=False), None, confirm_row, api_visibility="private")
        confirm_button.click(
            remove, remove_choice, [report_box, *outputs], api_name="remove", show_progress_on=[report_box]
        ).then(lambda: (gr.update(visible=False), coverage()), None, [confirm_row, coverage_box])
        chatbot.like(on_like, None, [pending, feedback_row], api_visibility="private")
        comment_button.click(
            on_comment, [pending, comment_box], [pending, comment_box, feedback_row], api_visibility="private"
        )
        app.load(refresh, None, outputs).then(coverage, None, coverage_box)
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
        **page_options(),
        "max_file_size": f"{settings.max_upload_mb:g}mb",
        "blocked_paths": [str(Path(settings.store_dir).resolve()), str(Path(settings.cache_dir).resolve())],
    }
