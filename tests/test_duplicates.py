"""Near-duplicate detection: syndicated copies group, separate reports of one event do not."""

from __future__ import annotations

from pathlib import Path

from ingest.loaders import load_file
from qa_bot.corpus.duplicates import MIN_CONTAINMENT, copy_groups, shingles

FIXTURES = Path(__file__).parent / "fixtures" / "multidate"


def _text(name: str) -> str:
    return load_file(FIXTURES / name).articles[0].text


def test_a_syndicated_copy_groups_with_its_original():
    texts = {p.stem: _text(p.name) for p in sorted(FIXTURES.glob("*.txt"))}
    groups = copy_groups(texts)
    pair = ("2025-01-12_tawanan_korut", "2025-01-12_tawanan_korut_sindikasi")
    assert groups == {pair[0]: pair, pair[1]: pair}


def test_reports_on_the_same_story_are_not_copies():
    # Two articles on North Korean troops in Kursk, written separately: they share names,
    # places and phrases such as "tentara Korea Utara di wilayah Kursk", not the text.
    a, b = shingles(_text("2024-11-05_kursk_pertempuran.txt")), shingles(_text("2024-12-17_korban_korut.txt"))
    assert len(a & b) / min(len(a), len(b)) < MIN_CONTAINMENT / 4


def test_copies_group_transitively_and_short_texts_do_not_crash():
    story = "Harga beras medium di Pasar Induk Cipinang naik menjadi Rp13.500 per kilogram pada Senin."
    texts = {
        "a": story,
        "b": "Jakarta — " + story,
        "c": story + " Baca juga: harga emas.",
        "d": "Pendek.",
        "e": "",
    }
    groups = copy_groups(texts)
    assert groups["a"] == groups["b"] == groups["c"] == ("a", "b", "c")
    assert "d" not in groups and "e" not in groups
