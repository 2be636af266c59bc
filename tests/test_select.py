"""Sentence selection with the real embedding model: runs of up to two sentences, no
overlaps, off-topic runs left out."""

from __future__ import annotations

from qa_bot.answer.select import select_snippets
from qa_bot.types import Passage

TEVEZ = (
    "Carlos Tevez resmi bergabung dengan klub Liga Super Tiongkok Shanghai Shenhua dari Boca "
    "Juniors. Penyerang berusia 32 tahun itu dikontrak selama dua musim. Manajer tim mengaku "
    "puas dengan kedatangannya."
)
RICE = (
    "Harga beras medium di Pasar Induk Cipinang naik menjadi Rp14.000 per kilogram. Pedagang "
    "menyebut pasokan dari Jawa Tengah berkurang menjelang panen."
)


def _passage(chunk_id: str, text: str) -> Passage:
    return Passage(chunk_id, text, chunk_id, "", "", "", "", 0, 0, len(text))


def test_runs_are_whole_sentences_best_first_and_never_overlap(embedder):
    question = "Berapa usia Carlos Tevez saat pindah ke Tiongkok?"
    passages = [_passage("tevez", TEVEZ), _passage("rice", RICE)]
    snippets = select_snippets(question, embedder.embed_query(question), passages, embedder)
    assert snippets and snippets == sorted(snippets, key=lambda s: -s.score)
    assert any("32 tahun" in s.text for s in snippets)
    for i, a in enumerate(snippets):
        assert a.text[0].isupper() and a.text.rstrip()[-1] in ".!?"
        for b in snippets[i + 1 :]:
            assert a.passage is not b.passage or a.end <= b.start or b.end <= a.start


def test_off_topic_runs_far_below_the_best_are_left_out(embedder):
    question = "Klub mana yang direkrut Carlos Tevez?"
    passages = [_passage("tevez", TEVEZ), _passage("rice", RICE)]
    vector = embedder.embed_query(question)
    kept = select_snippets(question, vector, passages, embedder)
    assert all(s.passage.chunk_id == "tevez" for s in kept)
    # Without the floor the third snippet is filled from the rice story.
    unfloored = select_snippets(question, vector, passages, embedder, relative_floor=1.0)
    assert len(unfloored) == 3 and any(s.passage.chunk_id == "rice" for s in unfloored)


def test_a_run_of_two_is_kept_within_max_window_chars(embedder):
    question = "Berapa usia Carlos Tevez?"
    passages = [_passage("tevez", TEVEZ)]
    snippets = select_snippets(
        question, embedder.embed_query(question), passages, embedder, max_window_chars=60
    )
    # Every two-sentence run of TEVEZ is longer than 60 characters: single sentences only.
    assert all(s.text.count(". ") == 0 for s in snippets)
