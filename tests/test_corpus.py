import json

import pytest

from ui.corpus import CorpusError, remove_article, save_uploads


def test_remove_text_article_moves_it_out_of_the_corpus(tmp_path):
    article = tmp_path / "a.md"
    article.write_text("Teks.")
    assert remove_article("a", str(article), tmp_path) == "moved a.md to .removed/"
    assert not article.exists()
    assert (tmp_path / ".removed" / "a.md").read_text() == "Teks."


def test_remove_jsonl_article_takes_out_only_its_line(tmp_path):
    feed = tmp_path / "feed.jsonl"
    lines = [
        json.dumps({"id": "x1", "text": "Satu."}),
        json.dumps({"url": "https://e.org/2", "text": "Dua."}),
    ]
    feed.write_text("\n".join(lines) + "\n")
    assert remove_article("https://e.org/2", str(feed), tmp_path) == "removed https://e.org/2 from feed.jsonl"
    assert feed.read_text() == lines[0] + "\n"


def test_remove_refuses_articles_from_outside_the_corpus(tmp_path):
    outside = tmp_path / "elsewhere.md"
    outside.write_text("x")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    with pytest.raises(CorpusError, match="did not come from the corpus folder"):
        remove_article("elsewhere", str(outside), corpus)
    assert outside.exists()


def test_save_uploads_uses_safe_names(tmp_path):
    upload = tmp_path / "upload.tmp"
    upload.write_text("Teks.")
    corpus = tmp_path / "corpus"
    assert save_uploads([str(upload)], ["../../evil.md"], corpus) == ["evil.md"]
    assert (corpus / "evil.md").read_text() == "Teks."
    assert not (tmp_path / "evil.md").exists()
