"""What the chat shows, as HTML: answers with source cards, progress, corpus coverage, and the
user-facing messages in Indonesian and English (pure functions, tested without a browser)."""

from __future__ import annotations

import html
import re
from datetime import date

from qa_bot import Answer
from qa_bot.types import Citation, CorpusSummary

# The strings the chat writes itself, in the asker's language ("id" or "en").
MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "sources": "Sources",
        "searching_for": "Searching for:",
        "searched_for": "Searched for:",
        "progress": "Searching the news and reading… {s} s",
        "checking": "Checking the answer…",
        "also_in": "Same story also in:",
        "source_n": "source {n}",
        "empty_question": "Please type a question.",
        "too_long": "The question is {n:,} characters long; the limit is {limit:,}. Please shorten it.",
        "bad_date": "The {which} date {value!r} is not a date like 2024-10-29 (YYYY-MM-DD).",
        "from": "from",
        "to": "to",
        "date_order": "The 'from' date {start} is after the 'to' date {end}.",
        "loading": "Loading the models (the first start takes up to a minute)…",
        "empty_corpus": "The corpus is empty: add articles in the Corpus tab, then ask again.",
        "coverage": "The corpus holds {articles} from {outlets}{dates}.",
        "narrower": "Try a narrower or different question about these news.",
        "failed": "Something went wrong while answering ({error}). Please try again.",
    },
    "id": {
        "sources": "Sumber",
        "searching_for": "Mencari:",
        "searched_for": "Dicari:",
        "progress": "Mencari berita dan membaca… {s} dtk",
        "checking": "Memeriksa jawaban…",
        "also_in": "Berita yang sama juga di:",
        "source_n": "sumber {n}",
        "empty_question": "Silakan ketik pertanyaan.",
        "too_long": "Pertanyaan ini {n:,} karakter; batasnya {limit:,}. Silakan persingkat.",
        "bad_date": "Tanggal {which} {value!r} bukan tanggal seperti 2024-10-29 (TTTT-BB-HH).",
        "from": "awal",
        "to": "akhir",
        "date_order": "Tanggal awal {start} jatuh setelah tanggal akhir {end}.",
        "loading": "Memuat model (awal pertama butuh hingga satu menit)…",
        "empty_corpus": "Korpus masih kosong: tambahkan artikel di tab Korpus, lalu bertanya lagi.",
        "coverage": "Korpus berisi {articles} dari {outlets}{dates}.",
        "narrower": "Coba pertanyaan yang lebih sempit atau berbeda tentang berita ini.",
        "failed": "Terjadi kesalahan saat menjawab ({error}). Silakan coba lagi.",
    },
}


def lang_of(language: str) -> str:
    return "id" if language == "id" else "en"


def msg(language: str, name: str, **values: object) -> str:
    return MESSAGES[lang_of(language)][name].format(**values)


def both(name: str, **values: object) -> str:
    """A message in Indonesian and English (when the asker's language is not known)."""
    return f"{msg('id', name, **values)} / {msg('en', name, **values)}"


def counter_text(n: int, limit: int) -> str:
    """The character counter under the question box, e.g. ``1,234 / 2,000``."""
    return f"{n:,} / {limit:,}"


def parse_day(value: str | None, which: str) -> tuple[date | None, str]:
    """A filter date: (day, "") or (None, a message in Indonesian and English) when the text
    is not a date; empty text is no date and no message."""
    text = (value or "").strip()
    if not text:
        return None, ""
    try:
        return date.fromisoformat(text[:10] if len(text) > 10 and text[10] in " T" else text), ""
    except ValueError:
        pass
    return None, (
        msg("id", "bad_date", which=msg("id", which), value=text)
        + "\n"
        + msg("en", "bad_date", which=msg("en", which), value=text)
    )


# ---- coverage ---------------------------------------------------------------------------------
def _articles(n: int, language: str) -> str:
    if lang_of(language) == "id":
        return f"{n:,} artikel"
    return f"{n:,} article" + ("" if n == 1 else "s")


def _outlets(sources: tuple[str, ...], language: str, shown: int = 4) -> str:
    if not sources:
        return "tanpa nama media" if lang_of(language) == "id" else "unnamed outlets"
    names = list(sources[:shown])
    more = len(sources) - shown
    if more > 0:
        names.append(f"{more} lainnya" if lang_of(language) == "id" else f"{more} more")
    if len(names) == 1:
        return names[0]
    joiner = " dan " if lang_of(language) == "id" else " and "
    return ", ".join(names[:-1]) + joiner + names[-1]


def coverage_text(summary: CorpusSummary, language: str) -> str:
    """What the corpus covers, as one plain sentence in ``language``."""
    dates = ""
    if summary.first and summary.last:
        span = summary.first.isoformat()
        if summary.last != summary.first:
            span += f" – {summary.last.isoformat()}"
        dates = f", {'terbit' if lang_of(language) == 'id' else 'published'} {span}"
    return msg(
        language,
        "coverage",
        articles=_articles(summary.articles, language),
        outlets=_outlets(summary.sources, language),
        dates=dates,
    )


def coverage_html(summary: CorpusSummary | None) -> str:
    """The coverage line above the chat, in both languages (the page shows the reader's one)."""
    if summary is None:
        return '<div class="qa-coverage">…</div>'
    parts = []
    for language in ("id", "en"):
        parts.append(f'<span class="qa-{language}">{html.escape(coverage_text(summary, language))}</span>')
    return f'<div class="qa-coverage">{"".join(parts)}</div>'


def not_found_note(summary: CorpusSummary | None, language: str) -> str:
    """The line under a "not in the corpus" answer: what the corpus covers, what to try."""
    if summary is None or summary.articles == 0:
        return msg(language, "narrower")
    return f"{coverage_text(summary, language)} {msg(language, 'narrower')}"


# ---- answers -----------------------------------------------------------------------------------
def progress_html(seconds: float, language: str, rewritten: str = "") -> str:
    """The line shown while the bot retrieves and the model reads: a spinner and the seconds."""
    return rewrite_html(rewritten, language, done=False) + (
        '<div class="qa-progress"><span class="qa-spinner" aria-hidden="true"></span> '
        f"{html.escape(msg(language, 'progress', s=int(seconds)))}</div>"
    )


def rewrite_html(rewritten: str, language: str, done: bool) -> str:
    """The follow-up's standalone question, in one place above the answer."""
    if not rewritten:
        return ""
    label = msg(language, "searched_for" if done else "searching_for")
    return f'<div class="qa-rewrite">{html.escape(label)} {html.escape(rewritten)}</div>\n\n'


def partial_html(text: str, language: str, rewritten: str = "") -> str:
    """The checked beginning of the answer while the rest streams in ([n] left as plain text)."""
    return (
        rewrite_html(rewritten, language, done=False)
        + f'<div class="qa-answer qa-streaming">{html.escape(text)}</div>\n\n'
        + '<div class="qa-progress"><span class="qa-spinner" aria-hidden="true"></span> '
        + f"{html.escape(msg(language, 'checking'))}</div>"
    )


def render_answer(answer: Answer, key: str = "a", summary: CorpusSummary | None = None) -> str:
    """HTML for one checked answer: the follow-up's rewrite (if any), the text with each [n]
    linked to its source card, then the cards (headline, outlet, date, passage with the
    supporting sentence marked); a "not in the corpus" answer says what the corpus covers."""
    language = answer.language
    parts = []
    if answer.rewritten:
        parts.append(rewrite_html(answer.rewritten, language, done=True).strip())
    text = _link_markers(html.escape(answer.text), answer, key)
    parts.append(f'<div class="qa-answer qa-final" id="{key}">{text}</div>')
    if answer.citations:
        parts.append(f'<div class="qa-sources-head">{html.escape(msg(language, "sources"))}</div>')
        parts.extend(source_card(c, key, language) for c in answer.citations)
    elif not answer.found:
        parts.append(f'<div class="qa-note">{html.escape(not_found_note(summary, language))}</div>')
    return "\n\n".join(parts)


def source_card(c: Citation, key: str, language: str = "en") -> str:
    """One source as a card, on one line (the chat's Markdown ends an HTML block at a blank line)."""
    title = html.escape(c.title or c.article_id)
    if c.url:
        title = (
            f'<a class="qa-title" href="{html.escape(c.url, quote=True)}" target="_blank" '
            f'rel="noopener">{title}</a>'
        )
    else:
        title = f'<span class="qa-title">{title}</span>'
    meta = " · ".join(html.escape(x) for x in (c.source, c.published[:10]) if x)
    before = _clean(c.text[: c.quote_start]).rstrip()
    quote = _clean(c.text[c.quote_start : c.quote_end]).strip()
    after = _clean(c.text[c.quote_end :]).lstrip()
    passage = " ".join(x for x in (before, f'<mark class="qa-mark">{quote}</mark>', after) if x)
    return (
        f'<div class="qa-card" id="{key}-src-{c.number}">'
        f'<div class="qa-card-head"><span class="qa-num">[{c.number}]</span> {title}</div>'
        + (f'<div class="qa-meta">{meta}</div>' if meta else "")
        + f'<div class="qa-passage">{passage}</div>{_copies_line(c, language)}</div>'
    )


def _copies_line(c: Citation, language: str) -> str:
    """ "Same story also in: Warta Nusantara — <title>" for syndicated copies of a source."""
    if not c.copies:
        return ""
    names = []
    for copy in c.copies:
        label = html.escape(" — ".join(x for x in (copy.source, copy.title or copy.article_id) if x))
        if copy.url:
            href = html.escape(copy.url, quote=True)
            label = f'<a href="{href}" target="_blank" rel="noopener">{label}</a>'
        names.append(label)
    return f'<div class="qa-copies">{html.escape(msg(language, "also_in"))} {"; ".join(names)}</div>'


def _clean(text: str) -> str:
    return html.escape(" ".join(text.split()))


def _link_markers(text: str, answer: Answer, key: str) -> str:
    """Each [n] a link to its card; hovering shows the quoted sentence (its title)."""
    quotes = {c.number: " ".join(c.quote.split()) for c in answer.citations}

    def link(m: re.Match) -> str:
        n = int(m.group(1))
        if n not in quotes:
            return m.group()
        preview = quotes[n] if len(quotes[n]) <= 300 else quotes[n][:299] + "…"
        return (
            f'<a class="qa-cite" href="#{key}-src-{n}" title="{html.escape(preview, quote=True)}">[{n}]</a>'
        )

    return re.sub(r"\[(\d+)\]", link, text)


_ANSWER_DIV = re.compile(r'<div class="qa-answer[^"]*"[^>]*>(.*?)</div>', re.S)
_KEY = re.compile(r'\bid="(qa[0-9a-f]{10})"')


def plain_answer(content: str) -> str:
    """The answer text of a rendered reply, without tags (for follow-up rewriting)."""
    m = _ANSWER_DIV.search(content)
    text = m.group(1) if m else content.split("\n\n")[0]
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def answer_key(content: object) -> str | None:
    """The key of a rendered final answer (feedback finds the answer's data by it), in a
    message however the chat hands it over (a string, typed parts, a message dict)."""
    if isinstance(content, str):
        m = _KEY.search(content)
        return m.group(1) if m else None
    values = (
        content.values()
        if isinstance(content, dict)
        else content
        if isinstance(content, list | tuple)
        else ()
    )
    for value in values:
        key = answer_key(value)
        if key:
            return key
    return None
