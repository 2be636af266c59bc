"""Ingest killed with SIGKILL at each step of its write, and two ingests at once.

Every phase runs in its own process (tests/ingest_worker.py) against a real embedded
Chroma store: v1 of a corpus is ingested, the corpus becomes v2 (one article edited, one
removed, one added), the v2 ingest is killed, a fresh process reads the store, then a new
ingest runs to the end and is compared with a clean ingest of v2.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import FOUNDING, ROOT

pytestmark = pytest.mark.slow

QUESTION = "Kapan Dewan Keamanan PBB menggelar rapat?"
OLD, NEW = "Rabu (30/10) setelah pukul 15.00", "Jumat (1/11) setelah pukul 10.00"


def worker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "tests.ingest_worker", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"worker {args} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def dump(store) -> dict:
    return json.loads(worker("dump", str(store), QUESTION).stdout.splitlines()[-1])


def article(name: str, title: str, body: str) -> str:
    return f"---\ntitle: {title}\nsource: Antara\npublished: 2024-10-28\n---\n{body}\n"


def write_v1(folder):
    folder.mkdir()
    shutil.copy(FOUNDING, folder / FOUNDING.name)
    (folder / "kedua.md").write_text(
        article(
            "kedua",
            "Harga cabai naik",
            "Harga cabai rawit di Pasar Induk Kramat Jati naik menjadi Rp80.000 per kilogram. "
            "Pedagang menyebut pasokan dari Jawa Tengah berkurang.",
        )
    )
    (folder / "ketiga.md").write_text(
        article(
            "ketiga",
            "Banjir di Semarang",
            "Banjir setinggi 50 sentimeter merendam tiga kelurahan di Semarang pada Senin pagi. "
            "Badan Penanggulangan Bencana Daerah mengerahkan perahu karet.",
        )
    )


def write_v2(folder):
    path = folder / FOUNDING.name
    path.write_text(path.read_text().replace(OLD, NEW))
    (folder / "kedua.md").unlink()
    (folder / "keempat.md").write_text(
        article(
            "keempat",
            "Kereta cepat tambah jadwal",
            "Operator kereta cepat Jakarta-Bandung menambah 12 perjalanan setiap akhir pekan. "
            "Penambahan berlaku mulai bulan depan.",
        )
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The corpus folder (at v2 after setup), a store holding v1, and both reference dumps."""
    root = tmp_path_factory.mktemp("crash")
    corpus = root / "corpus"
    write_v1(corpus)
    v1_store = root / "v1"
    worker("ingest", str(corpus), str(v1_store))
    v1 = dump(v1_store)
    write_v2(corpus)
    clean_store = root / "clean"
    worker("ingest", str(corpus), str(clean_store))
    v2 = dump(clean_store)
    assert any(OLD in t for t in v1["retrieved"]) and any(NEW in t for t in v2["retrieved"])
    assert v1["chunks"].keys() != v2["chunks"].keys()
    return {"root": root, "corpus": corpus, "v1_store": v1_store, "v1": v1, "v2": v2}


def same_corpus(seen: dict, expected: dict) -> bool:
    return seen["chunks"] == expected["chunks"] and seen["index_ids"] == sorted(expected["chunks"])


def finish_and_compare(world, store) -> None:
    report = json.loads(worker("ingest", str(world["corpus"]), str(store)).stdout.splitlines()[-1])
    assert report["skipped"] == []
    after = dump(store)
    assert same_corpus(after, world["v2"])
    # Nothing left behind: no uncommitted or retired record; the corpus index describes the
    # store exactly, and holds no segment folder a killed run left.
    assert after["records"] == len(after["chunks"])
    assert after["view"][1] is False
    assert (after["from_catalog"], after["verify"], after["legacy_indexes"]) == (True, None, [])
    assert after["segment_folders"] == after["catalog_segments"]
    assert any(NEW in t for t in after["retrieved"])


@pytest.mark.parametrize(
    "point, committed",
    [
        ("after-first-put", False),
        ("mid-put", False),
        ("after-retire", False),
        ("after-segment-save", False),
        ("mid-merge", False),
        ("mid-catalog-write", False),
        ("before-commit", False),  # the catalog has committed its rows, Chroma has not
        ("after-commit", True),
        ("mid-cleanup", True),
        ("before-index-cleanup", True),
    ],
)
def test_ingest_killed_at_a_step_leaves_a_consistent_store_and_the_next_run_finishes(
    world, tmp_path, point, committed
):
    store = tmp_path / "store"
    shutil.copytree(world["v1_store"], store)
    killed = worker("ingest", str(world["corpus"]), str(store), point, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    seen = dump(store)
    expected = world["v2"] if committed else world["v1"]
    assert same_corpus(seen, expected)
    assert any((NEW if committed else OLD) in t for t in seen["retrieved"])
    # The reader uses the on-disk index of what it sees (no rebuild from every chunk).
    assert seen["from_catalog"] is True
    if point != "before-index-cleanup":
        assert seen["view"][1] is True  # pending: readers filter by generation until cleaned up

    finish_and_compare(world, store)


def test_ingest_killed_at_random_moments_of_a_long_run(world, tmp_path):
    """A bigger v2 (many articles, two write groups) killed while it embeds and writes."""
    corpus = world["corpus"]
    extra = tmp_path / "extra"
    sentences = FOUNDING.read_text().split(". ")
    for n in range(70):
        body = ". ".join(sentences[(n + i) % len(sentences)] for i in range(12))
        (corpus / f"tambahan-{n:02d}.md").write_text(article(f"t{n}", f"Tambahan {n}", body))
    try:
        clean = tmp_path / "clean"
        worker("ingest", str(corpus), str(clean))
        reference = dump(clean)
        for fraction in (0.3, 0.9):
            store = tmp_path / f"store-{fraction}"
            shutil.copytree(world["v1_store"], store)
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.ingest_worker", "ingest", str(corpus), str(store), "timed"],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for line in proc.stdout:
                if line.startswith("progress "):
                    done, total = map(int, line.split()[1:])
                    if done >= fraction * total:
                        break
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            assert proc.returncode == -signal.SIGKILL
            seen = dump(store)
            assert same_corpus(seen, world["v1"])
            report = json.loads(worker("ingest", str(corpus), str(store)).stdout.splitlines()[-1])
            # What the killed run wrote is reused, not embedded again.
            assert 0 < report["chunks_written"] < len(reference["chunks"])
            after = dump(store)
            assert same_corpus(after, reference) and after["records"] == len(after["chunks"])
    finally:
        for path in corpus.glob("tambahan-*.md"):
            path.unlink()
        shutil.rmtree(extra, ignore_errors=True)


def test_ingest_killed_inside_its_writes_to_chroma(tmp_path):
    """Every article's metadata changes, so the run writes hundreds of records with reused
    vectors and embeds nothing: kills at moments of the write phase land inside Chroma's
    upserts, updates, the index build, the commit or the deletes."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sentences = FOUNDING.read_text().split(". ")
    for n in range(60):
        body = ". ".join(sentences[(n + i) % len(sentences)] for i in range(12))
        (corpus / f"b-{n:02d}.md").write_text(article(f"b{n}", f"Berita {n}", body))
    v1_store = tmp_path / "v1"
    worker("ingest", str(corpus), str(v1_store))
    v1 = dump(v1_store)
    for path in corpus.glob("b-*.md"):
        path.write_text(path.read_text().replace("title: Berita", "title: Kabar"))
    clean = tmp_path / "clean"
    worker("ingest", str(corpus), str(clean))
    v2 = dump(clean)
    outcomes = []
    # The write phase took 2.8 s here: early, middle, late (around the commit).
    for delay in (0.3, 1.2, 2.2):
        store = tmp_path / f"store-{delay}"
        shutil.copytree(v1_store, store)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.ingest_worker",
                "ingest",
                str(corpus),
                str(store),
                "announce-begin",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for line in proc.stdout:
            if line.strip() == "writing":
                break
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        seen = dump(store)
        # Before the commit the old corpus, after it the new one; never a mix.
        assert same_corpus(seen, v1) or same_corpus(seen, v2), (delay, seen["view"], len(seen["chunks"]))
        outcomes.append((delay, proc.returncode, same_corpus(seen, v2)))
        report = json.loads(worker("ingest", str(corpus), str(store)).stdout.splitlines()[-1])
        # Nothing embedded: every vector was reused.
        assert report["chunks_written"] == 0, (delay, report)
        after = dump(store)
        assert same_corpus(after, v2) and after["records"] == len(after["chunks"]), (
            delay,
            after["records"],
            len(after["chunks"]),
            after["view"],
        )
    # At least one kill landed while the run was still writing (not after it ended).
    assert any(code == -signal.SIGKILL for _, code, _ in outcomes), outcomes
    print("kills (delay s, exit code, saw the new corpus):", outcomes)


def test_a_second_ingest_is_refused_while_one_runs_and_readers_see_the_old_corpus(world, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(world["v1_store"], store)
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.ingest_worker",
            "ingest",
            str(world["corpus"]),
            str(store),
            "slow-commit",
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in first.stdout:
            if line.strip() == "holding":
                break
        # The first has written its generation and holds the lock, not yet committed.
        assert same_corpus(dump(store), world["v1"])
        second = subprocess.run(
            [sys.executable, "-m", "ui.cli", "--store-dir", str(store), "ingest", str(world["corpus"])],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert second.returncode == 1
        assert "another ingest is writing to this store" in second.stderr
        assert "run this one again when it has finished" in second.stderr
        first.stdin.write("go\n")
        first.stdin.flush()
        assert first.wait(timeout=600) == 0
    finally:
        if first.poll() is None:
            first.kill()
    after = dump(store)
    assert same_corpus(after, world["v2"]) and after["records"] == len(after["chunks"])
