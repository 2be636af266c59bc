"""Readers' ratings (qa_bot/feedback.py): the append-only log, reading it back, the report and
`qa-bot eval --feedback`. No model is needed: the answers are built by hand."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from qa_bot.feedback import (
    FEEDBACK_FILE,
    FeedbackCitation,
    FeedbackRecord,
    feedback_report,
    load_feedback,
    record_feedback,
    render_report,
)
from qa_bot.types import Answer, Citation, Passage
from ui.cli import main

CITATION = Citation(
    number=1,
    text="Sekretaris Jenderal NATO Mark Rutte mengatakan aliansi siap. Kalimat lain di bagian ini.",
    quote="Sekretaris Jenderal NATO Mark Rutte mengatakan aliansi siap.",
    quote_start=0,
    quote_end=61,
    title="NATO bersiap",
    source="Antara",
    url="https://example.org/nato",
    published="2024-10-29",
    chunk_id="nato-1:0",
    article_id="nato-1",
    score=0.87,
    start=0,
    end=92,
)
PASSAGE = Passage(
    chunk_id="nato-1:0",
    text=CITATION.text,
    article_id="nato-1",
    title="NATO bersiap",
    source="Antara",
    url="https://example.org/nato",
    published="2024-10-29",
    chunk_index=0,
    start=0,
    end=92,
)


def answer_dict(**changes) -> dict:
    fields = {
        "question": "Siapa dia?",
        "text": "Sekretaris Jenderal NATO adalah Mark Rutte [1].",
        "citations": (CITATION,),
        "found": True,
        "language": "id",
        "passages": (PASSAGE,),
        "timings": {"retrieve": 0.12, "generate": 1.5},
        "rewritten": "Siapa Sekretaris Jenderal NATO?",
        "refusal_p": 0.03,
    }
    return Answer(**{**fields, **changes}).to_dict()


def test_record_then_load_gives_the_same_fields_and_leaves_out_passages_and_timings(tmp_path):
    store = tmp_path / "new" / "store"  # made if missing
    before = datetime.now(UTC).replace(microsecond=0)
    path = record_feedback(
        store, rating="down", answer=answer_dict(), comment="  Kurang lengkap.\n", generation=7
    )
    after = datetime.now(UTC)
    assert path == store / FEEDBACK_FILE
    line = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(line) == [
        "answer",
        "citations",
        "comment",
        "found",
        "generation",
        "language",
        "question",
        "rating",
        "rewritten",
        "time",
    ]
    assert line["time"].endswith("+00:00") and "." not in line["time"]
    assert before <= datetime.fromisoformat(line["time"]) <= after

    records, problems = load_feedback(path)
    assert problems == []
    assert records == [
        FeedbackRecord(
            time=line["time"],
            rating="down",
            comment="Kurang lengkap.",
            question="Siapa dia?",
            rewritten="Siapa Sekretaris Jenderal NATO?",
            answer="Sekretaris Jenderal NATO adalah Mark Rutte [1].",
            found=True,
            language="id",
            citations=(
                FeedbackCitation(
                    number=1,
                    article_id="nato-1",
                    title="NATO bersiap",
                    source="Antara",
                    url="https://example.org/nato",
                    published="2024-10-29",
                    quote="Sekretaris Jenderal NATO Mark Rutte mengatakan aliansi siap.",
                ),
            ),
            generation=7,
        )
    ]


def test_a_long_comment_is_cut_to_2000_characters_and_lines_append(tmp_path):
    record_feedback(tmp_path, rating="up", answer=answer_dict(), generation=1)
    record_feedback(tmp_path, rating="down", answer=answer_dict(), comment="x" * 2500, generation=2)
    records, problems = load_feedback(tmp_path / FEEDBACK_FILE)
    assert problems == []
    assert [(r.rating, len(r.comment), r.generation) for r in records] == [("up", 0, 1), ("down", 2000, 2)]


@pytest.mark.parametrize("rating", ["Up", "thumbs-down", ""])
def test_a_rating_other_than_up_or_down_is_refused(tmp_path, rating):
    with pytest.raises(ValueError) as err:
        record_feedback(tmp_path, rating=rating, answer=answer_dict(), generation=1)
    assert str(err.value) == f'rating must be "up" or "down", not {rating!r}'
    assert not (tmp_path / FEEDBACK_FILE).exists()


def test_two_threads_writing_50_lines_each_give_100_whole_lines(tmp_path):
    def write(rating: str) -> None:
        for i in range(50):
            record_feedback(
                tmp_path, rating=rating, answer=answer_dict(), comment=f"{rating} {i}", generation=i
            )

    threads = [threading.Thread(target=write, args=(rating,)) for rating in ("up", "down")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records, problems = load_feedback(tmp_path / FEEDBACK_FILE)
    assert problems == []
    assert len(records) == 100
    for rating in ("up", "down"):
        assert [r.comment for r in records if r.rating == rating] == [f"{rating} {i}" for i in range(50)]


def test_a_cut_last_line_is_a_named_problem_and_the_next_write_starts_a_new_line(tmp_path):
    path = record_feedback(tmp_path, rating="up", answer=answer_dict(), generation=1)
    record_feedback(tmp_path, rating="down", answer=answer_dict(), generation=2)
    whole = path.read_bytes()
    path.write_bytes(whole[:-40])  # a process killed mid-write
    records, problems = load_feedback(path)
    assert [r.generation for r in records] == [1]
    assert problems == [
        "line 2: not valid JSON (Unterminated string starting at) (the file ends inside it: a write was cut off)"
    ]

    record_feedback(tmp_path, rating="down", answer=answer_dict(), generation=3)
    records, problems = load_feedback(path)
    assert [r.generation for r in records] == [1, 3]
    # No longer the last line, so not said to be cut off (though it was).
    assert problems == ["line 2: not valid JSON (Unterminated string starting at)"]


def test_lines_lacking_fields_or_with_wrong_values_are_named_and_skipped(tmp_path):
    path = record_feedback(tmp_path, rating="up", answer=answer_dict(), generation=1)
    good = json.loads(path.read_text(encoding="utf-8"))
    lacking = {k: v for k, v in good.items() if k not in ("rating", "generation")}
    lines = [
        json.dumps(good),
        "",
        json.dumps(lacking),
        json.dumps([1, 2]),
        json.dumps({**good, "rating": "meh"}),
        json.dumps({**good, "found": "yes"}),
        json.dumps({**good, "time": "kemarin"}),
        json.dumps({**good, "generation": 2}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records, problems = load_feedback(path)
    assert [r.generation for r in records] == [1, 2]
    assert problems == [
        "line 3: lacks rating, generation",
        "line 4: not a JSON object but list",
        'line 5: rating is \'meh\', not "up" or "down"',
        "line 6: wrong type of found",
        "line 7: time 'kemarin' is not an ISO 8601 time",
    ]


def record(time: str, rating: str, *, found: bool = True, language: str = "id", **changes) -> FeedbackRecord:
    fields = {
        "time": time,
        "rating": rating,
        "comment": "",
        "question": f"Q {time}",
        "rewritten": "",
        "answer": f"A {time}",
        "found": found,
        "language": language,
        "citations": (),
        "generation": 1,
    }
    return FeedbackRecord(**{**fields, **changes})


NATO = FeedbackCitation(
    1, "nato-1", "NATO bersiap", "Antara", "https://example.org/nato", "2024-10-29", "Rutte siap."
)
RECORDS = [
    record("2026-12-01T08:00:00+00:00", "up"),
    record("2026-12-01T09:00:00+00:00", "down", comment="salah orang", citations=(NATO,)),
    record("2026-12-01T07:00:00+00:00", "down", found=False, language="en"),
    record("2026-12-01T10:00:00+00:00", "up", found=False),
    record("2026-12-01T09:00:00+00:00", "down", question="same second, later line"),
]


def test_report_counts_shares_and_down_rated_newest_first():
    report = feedback_report(RECORDS)
    assert {k: v for k, v in report.items() if k != "down_rated"} == {
        "total": 5,
        "up": 2,
        "down": 3,
        "down_share": 0.6,
        "by_found": {
            "found": {"total": 3, "up": 1, "down": 2, "down_share": 0.6667},
            "not_found": {"total": 2, "up": 1, "down": 1, "down_share": 0.5},
        },
        "by_language": {
            "en": {"total": 1, "up": 0, "down": 1, "down_share": 1.0},
            "id": {"total": 4, "up": 2, "down": 2, "down_share": 0.5},
        },
    }
    assert [(d["time"], d["question"]) for d in report["down_rated"]] == [
        ("2026-12-01T09:00:00+00:00", "same second, later line"),
        ("2026-12-01T09:00:00+00:00", "Q 2026-12-01T09:00:00+00:00"),
        ("2026-12-01T07:00:00+00:00", "Q 2026-12-01T07:00:00+00:00"),
    ]
    assert report["down_rated"][1] == {
        "time": "2026-12-01T09:00:00+00:00",
        "question": "Q 2026-12-01T09:00:00+00:00",
        "rewritten": "",
        "answer": "A 2026-12-01T09:00:00+00:00",
        "found": True,
        "language": "id",
        "generation": 1,
        "comment": "salah orang",
        "citations": [{"number": 1, "title": "NATO bersiap", "quote": "Rutte siap."}],
    }
    json.dumps(report)  # JSON-ready


def test_report_of_no_ratings_has_no_shares():
    report = feedback_report([])
    assert (report["total"], report["down_share"], report["by_language"], report["down_rated"]) == (
        0,
        None,
        {},
        [],
    )
    assert render_report(report) == "Feedback: 0 rated, 0 up, 0 down\nNo answer has been rated yet."


def test_render_report_table_and_down_rated_answers():
    text = render_report(feedback_report(RECORDS[:3]))
    assert text == (
        "Feedback: 3 rated, 1 up, 2 down\n"
        "\n"
        "                   rated     up   down  down share\n"
        "all                    3      1      2         67%\n"
        "answer shown           2      1      1         50%\n"
        "not in the corpus      1      0      1        100%\n"
        "language en            1      0      1        100%\n"
        "language id            2      1      1         50%\n"
        "\n"
        "Rated down, newest first:\n"
        "\n"
        "2026-12-01T09:00:00+00:00  (answer shown, id, generation 1)\n"
        "  Q: Q 2026-12-01T09:00:00+00:00\n"
        "  A: A 2026-12-01T09:00:00+00:00\n"
        "  [1] NATO bersiap: “Rutte siap.”\n"
        "  Comment: salah orang\n"
        "\n"
        "2026-12-01T07:00:00+00:00  (not in the corpus, en, generation 1)\n"
        "  Q: Q 2026-12-01T07:00:00+00:00\n"
        "  A: A 2026-12-01T07:00:00+00:00"
    )


def test_cli_eval_feedback_prints_the_report_from_the_store_folder(tmp_path, capsys):
    record_feedback(tmp_path, rating="up", answer=answer_dict(), generation=4)
    record_feedback(
        tmp_path,
        rating="down",
        answer=answer_dict(found=False, text="Tidak ada di korpus.", citations=()),
        comment="Seharusnya ada.",
        generation=4,
    )
    assert main(["--store-dir", str(tmp_path), "eval", "--feedback"]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    assert out.out.startswith("Feedback: 2 rated, 1 up, 1 down\n")
    assert "  A: Tidak ada di korpus.\n  Comment: Seharusnya ada.\n" in out.out


def test_cli_eval_feedback_reads_a_given_path_and_names_bad_lines(tmp_path, capsys):
    path = record_feedback(tmp_path / "elsewhere", rating="down", answer=answer_dict(), generation=1)
    with path.open("a", encoding="utf-8") as f:
        f.write('{"rating": "up", "ti')
    assert main(["--store-dir", str(tmp_path / "store"), "eval", "--feedback", str(path)]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("Feedback: 1 rated, 0 up, 1 down\n")
    assert out.err.startswith(f"qa-bot: {path}: skipped line 2: not valid JSON (")
    assert out.err.endswith("(the file ends inside it: a write was cut off)\n")


def test_cli_eval_feedback_without_a_file_says_where_feedback_comes_from(tmp_path, capsys):
    assert main(["--store-dir", str(tmp_path), "eval", "--feedback"]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == (
        f"qa-bot: no feedback at {tmp_path / FEEDBACK_FILE}: it is written when readers rate answers "
        "with the thumbs up/down in the chat (qa-bot serve)\n"
    )


def test_cli_eval_still_needs_corpus_and_qa_without_feedback(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--store-dir", str(tmp_path), "eval", "--qa", "qa.jsonl"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.endswith(
        "qa-bot eval: error: the following arguments are required: --corpus\n"
    )
    with pytest.raises(SystemExit):
        main(["--store-dir", str(tmp_path), "eval", "--feedback", "--qa", "qa.jsonl"])
    assert "--feedback reads the chat's ratings only" in capsys.readouterr().err


def test_record_times_are_utc_seconds(tmp_path):
    path = record_feedback(tmp_path, rating="up", answer=answer_dict(), generation=1)
    (rec,), _ = load_feedback(path)
    moment = datetime.fromisoformat(rec.time)
    assert moment.utcoffset() == timedelta(0) and moment.microsecond == 0
