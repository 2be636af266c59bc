"""Readers' ratings of answers (thumbs up or down, with an optional comment), kept in the store
folder as a JSON Lines log and summed up into a report, so real questions feed the evaluation.

Each rating is one line of ``<store_dir>/feedback.jsonl``: the question, the answer as shown,
its citations (without the whole passages) and the store generation it was answered from, so
a down-rated answer can be looked at again, and turned into a QA item, after the corpus changed.

Example:
    >>> import tempfile
    >>> answer = {"question": "Siapa Sekjen NATO?", "text": "Mark Rutte [1].", "citations": [],
    ...           "found": True, "language": "id"}
    >>> with tempfile.TemporaryDirectory() as store:
    ...     path = record_feedback(store, rating="up", answer=answer, generation=3)
    ...     records, problems = load_feedback(path)
    >>> (records[0].rating, records[0].answer, records[0].generation, problems)
    ('up', 'Mark Rutte [1].', 3, [])
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FEEDBACK_FILE = "feedback.jsonl"
RATINGS = ("up", "down")
MAX_COMMENT = 2000
# What a citation keeps: enough to name the source and show the supporting sentence. The whole
# passage ("text") and the scores are left out: they are large and the store still has them.
CITATION_FIELDS = ("number", "article_id", "title", "source", "url", "published", "quote")
# A line waits at most this long for another worker's write (each holds the lock for one
# small write and an fsync, so this is only reached if the disk hangs).
_LOCK_TIMEOUT = 30.0


@dataclass(frozen=True)
class FeedbackCitation:
    """One numbered source of a rated answer, as the reader saw it."""

    number: int
    article_id: str
    title: str
    source: str
    url: str
    published: str
    quote: str


@dataclass(frozen=True)
class FeedbackRecord:
    """One rating, as a line of the feedback file holds it.

    ``time`` is UTC, ISO 8601 to the second; ``answer`` is the answer text with its [n]
    markers; ``generation`` is the store's committed generation the answer came from.
    """

    time: str
    rating: str
    comment: str
    question: str
    rewritten: str
    answer: str
    found: bool
    language: str
    citations: tuple[FeedbackCitation, ...]
    generation: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data, with the same keys as the line in the file."""
        return asdict(self)


def record_feedback(
    store_dir: str | Path,
    *,
    rating: str,
    answer: Mapping[str, Any],
    comment: str = "",
    generation: int,
) -> Path:
    """Append one rating to ``<store_dir>/feedback.jsonl``.

    Args:
        store_dir: The store folder; created if missing.
        rating: ``"up"`` or ``"down"``.
        answer: The rated answer as ``Answer.to_dict()`` gives it (``question``, ``text`` and
            ``found`` are required; its ``passages`` and ``timings`` are not stored).
        comment: What the reader wrote; stripped and cut to 2,000 characters.
        generation: The store generation the answer was given from.

    Returns:
        The path of the feedback file.

    Raises:
        ValueError: ``rating`` is neither "up" nor "down", ``generation`` is not an integer,
            or ``answer`` lacks a required key.
        filelock.Timeout: another process held the file's lock for 30 s.
        OSError: the folder or the file cannot be written.
    """
    if rating not in RATINGS:
        raise ValueError(f'rating must be "up" or "down", not {rating!r}')
    # bool is an int subclass; True as a generation is a caller's mistake, not generation 1.
    if not isinstance(generation, int) or isinstance(generation, bool):
        raise ValueError(f"generation must be an integer, not {generation!r}")
    missing = [key for key in ("question", "text", "found") if key not in answer]
    if missing:
        raise ValueError(f"the answer lacks {', '.join(missing)}: pass Answer.to_dict()")
    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "rating": rating,
        "comment": comment.strip()[:MAX_COMMENT],
        "question": str(answer["question"]),
        "rewritten": str(answer.get("rewritten") or ""),
        "answer": str(answer["text"]),
        "found": bool(answer["found"]),
        "language": str(answer.get("language") or ""),
        "citations": [_reduce_citation(c) for c in answer.get("citations") or ()],
        "generation": generation,
    }
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    folder = Path(store_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FEEDBACK_FILE
    from filelock import FileLock

    # O_APPEND alone keeps one write() whole on a local disk, but not a line split over two
    # writes after a short write, nor the check for a cut last line below; the lock (a
    # separate file, so readers never wait) covers both for every worker of the app.
    with FileLock(str(path) + ".lock", timeout=_LOCK_TIMEOUT):
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            # A process killed mid-write leaves a line without its newline; a new line written
            # straight after it would be glued to it and lost with it.
            if size and _last_byte(path, size) != b"\n":
                line = b"\n" + line
            # One write call for the whole line; the loop only runs on a short write (a full
            # disk), when the rest must still follow before the lock is let go.
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            # os.write is unbuffered, so there is nothing to flush: fsync puts the line on disk
            # before the reader is thanked for it.
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(folder)  # the new file's name, too, survives a power cut
    return path


def load_feedback(path: str | Path) -> tuple[list[FeedbackRecord], list[str]]:
    """Read a feedback file: the records, and a problem for each line that is not one.

    A bad line (not JSON, a missing or wrong field, a last line cut short by a killed
    process) is named by its number and skipped; it never stops the others from loading.

    Args:
        path: The feedback file (``<store_dir>/feedback.jsonl``).

    Returns:
        ``(records, problems)``: the records in file order (oldest first), and messages like
        ``"line 7: not valid JSON (...)"``.

    Raises:
        OSError: the file cannot be read (FileNotFoundError when there is none).
    """
    data = Path(path).read_bytes()
    records: list[FeedbackRecord] = []
    problems: list[str] = []
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        # The last line lacks its newline only if a write was cut off.
        cut = " (the file ends inside it: a write was cut off)" if number == len(lines) else ""
        try:
            value = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            problems.append(f"line {number}: not UTF-8 text{cut}")
            continue
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not valid JSON ({exc.msg}){cut}")
            continue
        try:
            records.append(_record(value))
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
    return records, problems


def feedback_report(records: Sequence[FeedbackRecord]) -> dict[str, Any]:
    """Sum ratings up: counts, the share rated down, and the down-rated answers.

    Args:
        records: The ratings, e.g. from ``load_feedback``.

    Returns:
        JSON-ready data: ``total``, ``up``, ``down``; ``by_language`` and ``by_found``
        (``"found"``: an answer was shown, ``"not_found"``: "not in the corpus"), each mapping
        to ``{"total", "up", "down", "down_share"}``; ``down_share`` for all, ``None`` when
        nothing was rated; and ``down_rated``: the answers rated down, newest first, each with
        time, question, rewritten, answer, found, language, generation, comment and citations
        (number, title, quote).
    """
    by_language: dict[str, list[FeedbackRecord]] = {}
    for record in records:
        by_language.setdefault(record.language or "unknown", []).append(record)
    # Newest first by the recorded time; lines of the same second keep their file order
    # reversed (the later line was written later).
    order = sorted(enumerate(records), key=lambda pair: (_when(pair[1].time), pair[0]), reverse=True)
    return {
        **_counts(records),
        "by_found": {
            "found": _counts([r for r in records if r.found]),
            "not_found": _counts([r for r in records if not r.found]),
        },
        "by_language": {lang: _counts(group) for lang, group in sorted(by_language.items())},
        "down_rated": [
            {
                "time": r.time,
                "question": r.question,
                "rewritten": r.rewritten,
                "answer": r.answer,
                "found": r.found,
                "language": r.language,
                "generation": r.generation,
                "comment": r.comment,
                "citations": [{"number": c.number, "title": c.title, "quote": c.quote} for c in r.citations],
            }
            for _, r in order
            if r.rating == "down"
        ],
    }


def render_report(report: Mapping[str, Any]) -> str:
    """The report as plain text for a terminal: a table of counts, then the down-rated answers.

    Args:
        report: What ``feedback_report`` returns.

    Returns:
        The text, without a trailing newline.
    """
    lines = [f"Feedback: {report['total']} rated, {report['up']} up, {report['down']} down"]
    if not report["total"]:
        lines.append("No answer has been rated yet.")
        return "\n".join(lines)
    rows = [("all", report)]
    rows += [
        (label, report["by_found"][key])
        for key, label in (("found", "answer shown"), ("not_found", "not in the corpus"))
    ]
    rows += [(f"language {lang}", counts) for lang, counts in report["by_language"].items()]
    width = max(len(label) for label, _ in rows)
    lines += ["", f"{'':<{width}}  {'rated':>5}  {'up':>5}  {'down':>5}  {'down share':>10}"]
    for label, counts in rows:
        lines.append(
            f"{label:<{width}}  {counts['total']:>5}  {counts['up']:>5}  {counts['down']:>5}  "
            f"{_percent(counts['down_share']):>10}"
        )
    if report["down_rated"]:
        lines += ["", "Rated down, newest first:"]
    for item in report["down_rated"]:
        shown = "answer shown" if item["found"] else "not in the corpus"
        lines += [
            "",
            f"{item['time']}  ({shown}, {item['language'] or '?'}, generation {item['generation']})",
        ]
        lines.append(f"  Q: {_one_line(item['question'])}")
        if item["rewritten"]:
            lines.append(f"     searched as: {_one_line(item['rewritten'])}")
        lines.append(f"  A: {_one_line(item['answer'])}")
        for c in item["citations"]:
            lines.append(f"  [{c['number']}] {_one_line(c['title'])}: “{_one_line(c['quote'])}”")
        if item["comment"]:
            lines.append(f"  Comment: {_one_line(item['comment'])}")
    return "\n".join(lines)


def _reduce_citation(citation: Mapping[str, Any]) -> dict[str, Any]:
    return {key: citation.get(key, 0 if key == "number" else "") for key in CITATION_FIELDS}


def _last_byte(path: Path, size: int) -> bytes:
    # Read through a separate descriptor: the O_APPEND one is write-only.
    with path.open("rb") as f:
        f.seek(size - 1)
        return f.read(1)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform or file system that cannot open folders: nothing to sync
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_TEXT_FIELDS = ("time", "rating", "comment", "question", "rewritten", "answer", "language")
_FIELDS = (*_TEXT_FIELDS, "found", "citations", "generation")


def _record(value: object) -> FeedbackRecord:
    """A record from one parsed line; ValueError says what is wrong with it."""
    if not isinstance(value, dict):
        raise ValueError(f"not a JSON object but {type(value).__name__}")
    missing = [key for key in _FIELDS if key not in value]
    if missing:
        raise ValueError(f"lacks {', '.join(missing)}")
    wrong = [key for key in _TEXT_FIELDS if not isinstance(value[key], str)]
    if not isinstance(value["found"], bool):
        wrong.append("found")
    if not isinstance(value["generation"], int) or isinstance(value["generation"], bool):
        wrong.append("generation")
    if not isinstance(value["citations"], list) or not all(isinstance(c, dict) for c in value["citations"]):
        wrong.append("citations")
    if wrong:
        raise ValueError(f"wrong type of {', '.join(wrong)}")
    if value["rating"] not in RATINGS:
        raise ValueError(f'rating is {value["rating"]!r}, not "up" or "down"')
    try:
        _when(value["time"])
    except ValueError:
        raise ValueError(f"time {value['time']!r} is not an ISO 8601 time") from None
    try:
        citations = tuple(_citation(c) for c in value["citations"])
    except (TypeError, ValueError):
        raise ValueError("a citation has a wrong field") from None
    return FeedbackRecord(
        time=value["time"],
        rating=value["rating"],
        comment=value["comment"],
        question=value["question"],
        rewritten=value["rewritten"],
        answer=value["answer"],
        found=value["found"],
        language=value["language"],
        citations=citations,
        generation=value["generation"],
    )


def _citation(value: Mapping[str, Any]) -> FeedbackCitation:
    # Lenient on a citation's fields (the answer's own citations were checked when written),
    # strict on their types, so the report can print them.
    number = value.get("number", 0)
    if not isinstance(number, int) or isinstance(number, bool):
        raise ValueError("number")
    texts = {key: value.get(key, "") for key in CITATION_FIELDS if key != "number"}
    if not all(isinstance(text, str) for text in texts.values()):
        raise ValueError("text field")
    return FeedbackCitation(number=number, **texts)


def _when(time: str) -> datetime:
    # A hand-edited line may lack the offset; such a time is taken as UTC like the rest.
    moment = datetime.fromisoformat(time)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _counts(records: Sequence[FeedbackRecord]) -> dict[str, Any]:
    down = sum(r.rating == "down" for r in records)
    return {
        "total": len(records),
        "up": len(records) - down,
        "down": down,
        # None, not 0: no rating says nothing about how often answers are rated down.
        "down_share": round(down / len(records), 4) if records else None,
    }


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
