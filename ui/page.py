"""The page's look and behaviour in the browser: CSS (light and dark), the small script
(language, character counter, empty-question guard, scrolling to an answer's start) and
the interface strings in Indonesian and English (``gr.I18n``)."""

from __future__ import annotations

from typing import Any

CSS = """
.qa-answer { line-height: 1.5; }
#qa-chat [data-testid="bot"], #qa-chat .qa-rewrite, #qa-chat .qa-answer { scroll-margin-top: 3.2em; }
.qa-cite { font-weight: 600; text-decoration: none; color: #0550ae !important; }
.dark .qa-cite { color: #8cc4ff !important; }
.qa-rewrite { color: #424a53 !important; font-style: italic; margin-bottom: 0.4em; }
.dark .qa-rewrite { color: #c9d1d9 !important; }
.qa-sources-head { font-weight: 700; margin-top: 0.6em; }
.qa-card { background: #ffffff !important; color: #1f2328 !important; border: 1px solid #d0d7de;
  border-left: 4px solid #9a6700; border-radius: 6px; padding: 0.5em 0.75em; margin: 0.5em 0; }
.dark .qa-card { background: #161b22 !important; color: #e6edf3 !important; border-color: #30363d;
  border-left-color: #d29922; }
.qa-card-head { font-weight: 600; }
.qa-card .qa-num { color: #1f2328 !important; margin-right: 0.25em; }
.dark .qa-card .qa-num { color: #e6edf3 !important; }
.qa-card a, .qa-card a:visited { color: #0550ae !important; }
.dark .qa-card a, .dark .qa-card a:visited { color: #8cc4ff !important; }
.qa-card .qa-meta { color: #57606a !important; font-size: 0.9em; margin: 0.1em 0 0.3em 0; }
.dark .qa-card .qa-meta { color: #a5afbb !important; }
.qa-card .qa-passage { color: #1f2328 !important; }
.dark .qa-card .qa-passage { color: #e6edf3 !important; }
.qa-card mark, .qa-card .qa-mark { background: #fff1a8 !important; color: #1f2328 !important;
  padding: 0 0.1em; border-radius: 2px; }
.dark .qa-card mark, .dark .qa-card .qa-mark { background: #6b5800 !important; color: #fffbe6 !important; }
.qa-card .qa-copies { color: #57606a !important; font-size: 0.9em; margin-top: 0.3em; }
.dark .qa-card .qa-copies { color: #a5afbb !important; }
.qa-note { color: #424a53 !important; margin-top: 0.4em; }
.dark .qa-note { color: #c9d1d9 !important; }
.qa-progress { color: #424a53 !important; font-size: 0.95em; margin-top: 0.3em; }
.dark .qa-progress { color: #c9d1d9 !important; }
.qa-spinner { display: inline-block; width: 0.9em; height: 0.9em; border: 2px solid currentColor;
  border-right-color: transparent; border-radius: 50%; vertical-align: -0.1em;
  animation: qa-spin 0.8s linear infinite; }
@keyframes qa-spin { to { transform: rotate(360deg); } }
.qa-coverage { color: #424a53; font-size: 0.95em; padding: 0.2em 0.1em; }
.dark .qa-coverage { color: #c9d1d9; }
.qa-counter { color: #57606a; font-size: 0.85em; text-align: right; padding: 0 0.5em; }
.dark .qa-counter { color: #a5afbb; }
.qa-counter.qa-full { color: #b3261e; font-weight: 600; }
.dark .qa-counter.qa-full { color: #ff9b92; }
"""

# The language rules sit in the head: gradio scopes the custom CSS inside its container.
# Runs in the page: the reader's language for the bilingual lines, the counter under the
# question box, no sending of an empty or blank question (Enter, send button), and the start
# of a finished answer scrolled into view.
HEAD = """
<style>
.qa-id { display: none; }
html[data-qa-lang="id"] .qa-id { display: inline; }
html[data-qa-lang="id"] .qa-en { display: none; }
</style>
<script>
(() => {
  const lang = (navigator.language || "en").toLowerCase().startsWith("id") ? "id" : "en";
  document.documentElement.dataset.qaLang = lang;
  const box = () => document.querySelector("#qa-question textarea");
  const blank = (ta) => !ta || ta.value.trim() === "";
  const guard = (e) => {
    const ta = box();
    if (e.target === ta && e.key === "Enter" && !e.shiftKey && blank(ta)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  };
  document.addEventListener("keydown", guard, true);
  document.addEventListener("keypress", guard, true);
  const seen = new Set();
  const tick = () => {
    const ta = box();
    const counter = document.querySelector("#qa-counter");
    if (ta && counter) {
      const limit = parseInt(counter.dataset.limit || ta.getAttribute("maxlength") || "0", 10);
      const n = ta.value.length;
      counter.textContent = n.toLocaleString("en-US") + " / " + limit.toLocaleString("en-US");
      counter.classList.toggle("qa-full", limit > 0 && n >= limit);
    }
    const send = document.querySelector("#qa-question [data-testid=submit-button]");
    if (ta && send && send.disabled !== blank(ta)) {
      send.disabled = blank(ta);  // gradio disables it for an empty box, not for spaces
      send.setAttribute("aria-disabled", String(blank(ta)));
    }
    document.querySelectorAll(".qa-answer.qa-final").forEach((el) => {
      if (!el.id || seen.has(el.id)) return;
      seen.add(el.id);
      const message = el.closest("[data-testid=bot]") || el;
      const go = () => {
        // The chat box scrolls to the message's start; the page only if that is off screen.
        for (let c = message.parentElement; c; c = c.parentElement) {
          const style = getComputedStyle(c).overflowY;
          if ((style === "auto" || style === "scroll") && c.scrollHeight > c.clientHeight) {
            c.scrollTop += message.getBoundingClientRect().top - c.getBoundingClientRect().top - 8;
            break;
          }
        }
        const top = message.getBoundingClientRect().top;
        if (top < 0 || top > window.innerHeight - 48) {
          message.scrollIntoView({ block: "start", behavior: "instant" });
        }
      };
      setTimeout(go, 120);
      setTimeout(go, 500);
      setTimeout(go, 1200);
    });
  };
  setInterval(tick, 200);
})();
</script>
"""

TRANSLATIONS: dict[str, dict[str, str]] = {
    "en": {
        "intro": (
            "## Tanya Berita\nAsk about the news in Indonesian or English. Every answer cites the "
            "sentence it rests on; when the news does not say, the bot says so."
        ),
        "chat_tab": "Chat",
        "corpus_tab": "Corpus",
        "filters": "Filters",
        "sources": "Sources",
        "date_from": "Published from (YYYY-MM-DD)",
        "date_to": "Published to (YYYY-MM-DD)",
        "question": "Question",
        "placeholder": "Ask about the news…",
        "add_articles": "Add articles",
        "meta_title": "Title (optional, for a .txt/.md file)",
        "meta_source": "Outlet (optional)",
        "meta_published": "Published (optional, YYYY-MM-DD)",
        "ingest": "Add and re-ingest",
        "report": "Ingest report",
        "remove_choice": "Article to remove",
        "remove": "Remove article…",
        "confirm_remove": "Yes, remove it",
        "cancel": "Cancel",
        "confirm_text": "Remove the chosen article from the corpus? (Its file moves to corpus/.removed/.)",
        "comment": "Comment on this answer (optional)",
        "send_comment": "Send comment",
    },
    "id": {
        "intro": (
            "## Tanya Berita\nTanyakan berita dalam bahasa Indonesia atau Inggris. Setiap jawaban "
            "mengutip kalimat sumbernya; bila berita tidak menyebutnya, bot mengatakan demikian."
        ),
        "chat_tab": "Obrolan",
        "corpus_tab": "Korpus",
        "filters": "Filter",
        "sources": "Media",
        "date_from": "Terbit sejak (TTTT-BB-HH)",
        "date_to": "Terbit hingga (TTTT-BB-HH)",
        "question": "Pertanyaan",
        "placeholder": "Tanyakan tentang berita…",
        "add_articles": "Tambah artikel",
        "meta_title": "Judul (opsional, untuk berkas .txt/.md)",
        "meta_source": "Media (opsional)",
        "meta_published": "Tanggal terbit (opsional, TTTT-BB-HH)",
        "ingest": "Tambah dan proses ulang",
        "report": "Laporan pemrosesan",
        "remove_choice": "Artikel yang dihapus",
        "remove": "Hapus artikel…",
        "confirm_remove": "Ya, hapus",
        "cancel": "Batal",
        "confirm_text": "Hapus artikel yang dipilih dari korpus? (Berkasnya dipindah ke corpus/.removed/.)",
        "comment": "Komentar untuk jawaban ini (opsional)",
        "send_comment": "Kirim komentar",
    },
}


def i18n() -> Any:
    """The interface strings as ``gr.I18n`` (passed to ``launch``; the browser's language picks)."""
    import gradio as gr

    return gr.I18n(**TRANSLATIONS)


def page_options() -> dict:
    """``launch`` options for the page's look, script and languages."""
    return {"css": CSS, "head": HEAD, "i18n": i18n()}
