"""The CLI: exit codes and output of `qa-bot ingest` and `qa-bot ask`."""

import json
import re

import pytest

from ui.cli import main


@pytest.mark.models
def test_ingest_twice_reports_then_says_no_changes(founding_corpus, tmp_path, capsys):
    store = str(tmp_path / "store")
    assert main(["--store-dir", store, "ingest", str(founding_corpus), "--quiet"]) == 0
    first = capsys.readouterr().out
    assert first.startswith(
        "Ingest: added 1, updated 0, unchanged 0, removed 0, skipped 0 (13 chunks written"
    )
    assert main(["--store-dir", store, "ingest", str(founding_corpus), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["added"], report["unchanged"], report["chunks_written"]) == (
        [],
        ["000_c2c96c36c1e836fc"],
        0,
    )


def test_ingest_missing_path_is_a_clean_error(tmp_path, capsys):
    assert main(["--store-dir", str(tmp_path), "ingest", str(tmp_path / "nope")]) == 1
    assert (
        capsys.readouterr().err
        == f"qa-bot: {tmp_path / 'nope'} does not exist: give a file or a folder of articles\n"
    )


def test_ask_empty_question_is_a_usage_error(tmp_path, capsys):
    assert main(["--store-dir", str(tmp_path), "ask", "  "]) == 2
    assert "the question is empty" in capsys.readouterr().err


@pytest.mark.slow
def test_ask_json_with_real_models(founding_settings, llm, capsys):
    assert (
        main(
            [
                "--store-dir",
                str(founding_settings.store_dir),
                "ask",
                "Siapa Sekretaris Jenderal NATO?",
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["found"] is True
    assert "Mark Rutte" in data["text"]
    assert data["citations"][0]["number"] == 1
    assert "Mark Rutte" in data["citations"][0]["quote"]


@pytest.mark.models
def test_ask_on_empty_store_says_to_ingest(tmp_path, capsys):
    assert main(["--store-dir", str(tmp_path), "ask", "Siapa Sekretaris Jenderal NATO?"]) == 1
    assert capsys.readouterr().err == (
        f"qa-bot: the store at {tmp_path} holds no articles: run `qa-bot ingest corpus/` first\n"
    )


@pytest.mark.models
def test_eval_retrieval_only_prints_table_and_writes_results(tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"id": "p1", "text": "Sekretaris Jenderal NATO saat ini adalah Mark Rutte dari Belanda."},
                {"id": "p2", "text": "Harga cabai rawit di Pasar Induk Kramat Jati naik menjadi Rp80.000."},
            ]
        )
    )
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        json.dumps(
            {
                "id": "q1",
                "question": "Siapa Sekjen NATO?",
                "answers": ["Mark Rutte"],
                "doc_id": "p1",
                "split": "valid",
            }
        )
    )
    out = tmp_path / "out"
    code = main(
        [
            "--store-dir",
            str(tmp_path / "s"),
            "eval",
            "--corpus",
            str(corpus),
            "--qa",
            str(qa),
            "--retrieval-only",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert re.search(r"^R@1 +1\.0$", printed, re.MULTILINE)
    assert sorted(p.suffix for p in out.iterdir()) == [".json", ".png"]
    data = json.loads(next(out.glob("*.json")).read_text())
    assert data["summary"]["retrieval"] == {"R@1": 1.0, "R@5": 1.0, "R@10": 1.0, "MRR": 1.0}


@pytest.fixture
def ingested_corpus(tmp_path, settings_factory, embedder):
    """A corpus folder with two articles, ingested into a fresh store."""
    from ingest.pipeline import ingest_path

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "cabai.md").write_text("Harga cabai rawit naik menjadi Rp80.000 per kilogram.\n")
    (corpus / "banjir.md").write_text("Banjir merendam tiga kelurahan di Semarang pada Senin pagi.\n")
    settings = settings_factory()
    ingest_path(corpus, settings, embedder=embedder)
    return corpus, str(settings.store_dir)


def test_remove_takes_the_article_out_and_says_its_file_would_bring_it_back(ingested_corpus, capsys):
    corpus, store = ingested_corpus
    assert main(["--store-dir", store, "remove", "cabai"]) == 0
    assert capsys.readouterr() == (
        "Remove: removed 1, not found 0 (1 chunks deleted)\n"
        "  removed: cabai\n"
        f"  note: cabai: its file {corpus}/cabai.md is still there: the next ingest of its folder adds "
        "it again (move or delete the file)\n",
        "",
    )


def test_remove_unknown_id_exits_1_and_names_it(ingested_corpus, capsys):
    _, store = ingested_corpus
    assert main(["--store-dir", store, "remove", "cabe", "banjir"]) == 1
    out, err = capsys.readouterr()
    assert out == (
        "Remove: removed 1, not found 1 (1 chunks deleted)\n"
        "  removed: banjir\n"
        "  note: banjir: its file "
        f"{ingested_corpus[0]}/banjir.md is still there: the next ingest of its folder adds it again "
        "(move or delete the file)\n"
        "  not found: cabe: no article with this id in the store (did you mean 'cabai'?)\n"
    )
    assert err == "qa-bot: not in the store: 'cabe'\n"


def test_remove_an_article_no_folder_ingest_reaches(tmp_path, ingested_corpus, capsys):
    _, store = ingested_corpus
    elsewhere = tmp_path / "lain" / "passwd.txt"
    elsewhere.parent.mkdir()
    elsewhere.write_text("root:x:0:0:root:/root:/bin/bash\n")
    # As ingest through a link in the corpus recorded it before links were checked; the
    # link has since been deleted, so no ingest of the corpus removes it.
    assert main(["--store-dir", store, "ingest", str(elsewhere), "--quiet", "--json"]) == 0
    capsys.readouterr()
    elsewhere.unlink()
    assert main(["--store-dir", store, "remove", "passwd", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "removed": ["passwd"],
        "unknown": [],
        "notes": [],
        "suggestions": {},
        "chunks_deleted": 1,
    }
