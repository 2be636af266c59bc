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


def line(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode()


@pytest.mark.parametrize("char", ["\u0085", "\u2028", "\u2029"], ids=["NEL", "LS", "PS"])
@pytest.mark.parametrize("removed", ["a", "b", "c"])
def test_remove_jsonl_splits_on_newlines_only(tmp_path, char, removed):
    lines = {
        "a": line({"id": "a", "text": "Satu."}),
        "b": line({"id": "b", "text": f"Dua.{char}Masih dua."}),
        "c": line({"id": "c", "text": "Tiga."}),
    }
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"\n".join(lines.values()) + b"\n")
    assert remove_article(removed, str(feed), tmp_path) == f"removed {removed} from feed.jsonl"
    assert feed.read_bytes() == b"\n".join(v for k, v in lines.items() if k != removed) + b"\n"


@pytest.mark.parametrize(("removed", "left"), [("a", "b"), ("b", "a")])
def test_remove_jsonl_keeps_the_byte_order_mark_at_the_start(tmp_path, removed, left):
    records = {k: line({"id": k, "text": "Teks."}) for k in "ab"}
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"\xef\xbb\xbf" + records["a"] + b"\n" + records["b"] + b"\n")
    assert remove_article(removed, str(feed), tmp_path) == f"removed {removed} from feed.jsonl"
    assert feed.read_bytes() == b"\xef\xbb\xbf" + records[left] + b"\n"


def test_remove_jsonl_keeps_crlf_line_endings(tmp_path):
    a, b, c = (line({"id": k, "text": "Teks."}) for k in "abc")
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(a + b"\r\n" + b + b"\r\n" + c + b"\r\n")
    remove_article("b", str(feed), tmp_path)
    assert feed.read_bytes() == a + b"\r\n" + c + b"\r\n"


def test_remove_jsonl_in_utf16_keeps_its_encoding(tmp_path):
    a, b = (json.dumps({"id": k, "text": "Harga “naik”."}, ensure_ascii=False) for k in "ab")
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"\xfe\xff" + f"{a}\n{b}\n".encode("utf-16-be"))
    remove_article("a", str(feed), tmp_path)
    assert feed.read_bytes() == b"\xfe\xff" + f"{b}\n".encode("utf-16-be")


def test_remove_last_jsonl_article_moves_the_file_out(tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(line({"id": "a", "text": "Satu."}) + b"\n\n")
    assert (
        remove_article("a", str(feed), tmp_path) == "moved feed.jsonl to .removed/ (a was its last article)"
    )
    assert not feed.exists()
    assert (tmp_path / ".removed" / "feed.jsonl").read_bytes() == line({"id": "a", "text": "Satu."}) + b"\n\n"


def test_remove_text_article_behind_a_link_moves_the_link_not_the_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "asli.md").write_text("Teks.")
    (tmp_path / "salinan.md").symlink_to(tmp_path / "sub" / "asli.md")
    assert (
        remove_article("salinan", str(tmp_path / "salinan.md"), tmp_path) == "moved salinan.md to .removed/"
    )
    assert (tmp_path / ".removed" / "salinan.md").is_symlink()
    assert (tmp_path / "sub" / "asli.md").read_text() == "Teks."


@pytest.mark.parametrize(
    ("article_id", "path", "message"),
    [
        (
            "passwd",
            "{o}",
            "'passwd' did not come from the corpus folder ({o}); it cannot be removed here: remove it "
            "from the store with `qa-bot remove passwd` on the server",
        ),
        (
            "https://e.org/berita/1",
            "https://e.org/rss",
            "'https://e.org/berita/1' was fetched from https://e.org/rss, not read from the corpus "
            "folder; remove it from the store with `qa-bot remove https://e.org/berita/1` on the server",
        ),
        (
            "berita lama",
            "{o}",
            "'berita lama' did not come from the corpus folder ({o}); it cannot be removed here: remove "
            "it from the store with `qa-bot remove 'berita lama'` on the server",
        ),
    ],
)
def test_remove_refusal_names_the_qa_bot_remove_command(tmp_path, article_id, path, message):
    outside = tmp_path / "passwd"
    outside.write_text("root:x:0:0")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    with pytest.raises(CorpusError) as err:
        remove_article(article_id, path.format(o=outside), corpus)
    assert str(err.value) == message.format(o=outside)
    assert outside.read_text() == "root:x:0:0"
