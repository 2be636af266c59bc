"""A month or year in a question is when something happened, not when it was reported.

The issue: "Berapa persen realisasi anggaran KPK pada 2022?" over 2025 news answered "no
article was published in 2022" although a 2025 article gives the 2022 figure. Only a request
for news of a time ("Berita KPK pada 2022?") or the asker's relative time ("pekan lalu")
narrows by publication date. The corpus is written for these tests: five short articles
published from 16 September 2024 to 10 February 2025, none in 2022; they are ingested into a
real Chroma store and searched through the real retrieval.
"""

from __future__ import annotations

from datetime import date

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import Field

from tests.conftest import bot_for

KPK = "2025-02-10_kpk_anggaran"
ARTICLES = {
    KPK: (
        "KPK laporkan realisasi anggaran tiga tahun terakhir",
        "Warta Nusantara",
        "Komisi Pemberantasan Korupsi (KPK) melaporkan realisasi anggarannya pada 2022 mencapai "
        "96,4 persen dari pagu Rp1,3 triliun.\n\n"
        "Sekretaris Jenderal KPK mengatakan realisasi anggaran pada 2023 turun menjadi 91,2 persen "
        "karena sejumlah pengadaan ditunda.\n\n"
        "Untuk 2025, KPK mendapat pagu anggaran Rp1,2 triliun, lebih kecil daripada tahun sebelumnya.",
    ),
    "2024-11-05_kpk_tahanan": (
        "KPK tahan tersangka korupsi proyek jalan",
        "Kabar Dunia",
        "Komisi Pemberantasan Korupsi (KPK) menahan dua tersangka kasus korupsi proyek jalan di "
        "Kalimantan Timur.\n\nJuru bicara KPK mengatakan kerugian negara dalam kasus itu ditaksir Rp45 miliar.",
    ),
    "2024-09-16_harga_beras": (
        "Harga beras di Cipinang turun",
        "Kabar Dunia",
        "Harga beras medium di Pasar Induk Beras Cipinang turun menjadi Rp12.800 per kilogram setelah "
        "panen raya di Jawa Tengah.\n\nPedagang mengatakan pasokan dari Demak dan Grobogan masih lancar.",
    ),
    "2025-02-03_harga_beras": (
        "Harga beras naik di Pasar Induk Cipinang",
        "Warta Nusantara",
        "Harga beras medium di Pasar Induk Beras Cipinang naik menjadi Rp13.900 per kilogram karena "
        "pasokan berkurang.\n\nPedagang beras di Cipinang memperkirakan harga beras baru turun setelah "
        "panen raya pada Maret.",
    ),
    "2025-01-20_banjir_bekasi": (
        "Banjir rendam ribuan rumah di Bekasi",
        "Kabar Dunia",
        "Banjir merendam sekitar 3.000 rumah di enam kecamatan di Bekasi setelah hujan deras "
        "semalaman.\n\nBPBD Kota Bekasi membuka tiga posko pengungsian bagi warga terdampak.",
    ),
}


class RecordingChat(FakeListChatModel):
    """A scripted chat model that keeps the prompts it was given (to see what it read)."""

    prompts: list[str] = Field(default_factory=list)

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        self.prompts.append("\n".join(str(m.content) for m in messages))
        yield from super()._stream(messages, stop, run_manager, **kwargs)


def _ingest(folder, articles, settings, embedder):
    from ingest.pipeline import ingest_path

    for article_id, (title, source, body) in articles.items():
        header = f"---\ntitle: {title}\nsource: {source}\npublished: {article_id[:10]}\n---\n"
        (folder / f"{article_id}.txt").write_text(f"{header}Jakarta, {source} —\n{body}\n", encoding="utf-8")
    report = ingest_path(folder, settings, embedder=embedder)
    assert sorted(report.added) == sorted(articles)


@pytest.fixture(scope="module")
def news_settings(settings_factory, embedder, tmp_path_factory):
    # Asked on Saturday 1 March 2025: "pekan lalu" is 17-23 February, which holds no article.
    settings = settings_factory(today=date(2025, 3, 1))
    _ingest(tmp_path_factory.mktemp("event-time"), ARTICLES, settings, embedder)
    return settings


REPLY = "Realisasi anggaran KPK pada 2022 mencapai 96,4 persen [1]."
RICE_SEP, RICE_FEB, ARREST = "2024-09-16_harga_beras", "2025-02-03_harga_beras", "2024-11-05_kpk_tahanan"


@pytest.mark.parametrize(
    ("question", "passages"),
    [
        ("Berapa persen realisasi anggaran KPK pada 2022?", [KPK, ARREST, RICE_SEP, RICE_FEB]),
        ("Berapa realisasi anggaran KPK sebelum 2024?", [KPK, ARREST, RICE_FEB, RICE_SEP]),
        ("How much of its budget did the KPK spend in 2022?", [KPK, ARREST, RICE_SEP, RICE_FEB]),
    ],
)
def test_a_year_of_events_reaches_the_later_article_that_reports_it(
    news_settings, embedder, question, passages
):
    chat = RecordingChat(responses=[REPLY])
    answer = bot_for(news_settings, embedder, chat).ask(question)
    # every article was searched (none is from 2022 or before 2024) and the report ranks first
    assert [p.article_id for p in answer.passages] == passages
    assert len(chat.prompts) == 1 and "96,4 persen dari pagu Rp1,3 triliun" in chat.prompts[0]
    if question.startswith("How much"):
        # The role check (qa_bot/answer/check/claim_check.py) finds none of "budget", "spend" in the
        # Indonesian sentence (e5 word vectors do not pair them with "anggaran",
        # "realisasi"), so this English question is refused, not answered: a known cost of
        # the check, in docs/evaluation.md. Retrieval and the prompt are what this tests.
        return
    assert (answer.found, answer.text) == (True, REPLY)
    assert [c.article_id for c in answer.citations] == [KPK]


SPAN_ID = "antara Senin, 16 September 2024 dan Senin, 10 Februari 2025"
SPAN_EN = "from Monday 16 September 2024 to Monday 10 February 2025"


@pytest.mark.parametrize(
    ("question", "message"),
    [
        (
            "Berita KPK pada 2022?",
            'Tidak ada artikel di korpus yang terbit pada waktu yang ditanyakan ("pada 2022": 2022). '
            f"Artikel bertanggal di korpus terbit {SPAN_ID}: tanyakan tanpa keterangan waktu, atau "
            "tambahkan artikel yang lebih baru.",
        ),
        (
            "Apa yang terjadi pada KPK pada Oktober 2022?",
            'Tidak ada artikel di korpus yang terbit pada waktu yang ditanyakan ("pada Oktober 2022": '
            f"Oktober 2022). Artikel bertanggal di korpus terbit {SPAN_ID}: tanyakan tanpa keterangan "
            "waktu, atau tambahkan artikel yang lebih baru.",
        ),
        (
            "What happened to the KPK budget in 2022?",
            'No article in the corpus was published in the time you asked about ("in 2022": 2022). '
            f"Its dated articles were published {SPAN_EN}: ask without the time, or ingest newer articles.",
        ),
        (
            "Berapa harga beras pekan lalu?",
            'Tidak ada artikel di korpus yang terbit pada waktu yang ditanyakan ("pekan lalu": '
            f"17-23 Februari 2025). Artikel bertanggal di korpus terbit {SPAN_ID}: tanyakan tanpa "
            "keterangan waktu, atau tambahkan artikel yang lebih baru.",
        ),
    ],
)
def test_news_of_a_time_without_articles_says_so_without_asking_the_model(
    news_settings, embedder, question, message
):
    chat = RecordingChat(responses=["tidak dipanggil"])
    answer = bot_for(news_settings, embedder, chat).ask(question)
    assert (answer.found, answer.text, answer.citations, answer.passages) == (False, message, (), ())
    assert chat.prompts == []


def test_a_month_of_events_ranks_articles_published_then_first_and_hides_none(news_settings, embedder):
    question = "Berapa harga beras sebelum Oktober 2024?"
    bot = bot_for(
        news_settings, embedder, RecordingChat(responses=["Harga beras turun menjadi Rp12.800 [1]."])
    )
    plain = [p.article_id for p in bot.retriever.retrieve(question, 4)]
    assert plain == [RICE_FEB, RICE_SEP, KPK, ARREST]
    answer = bot.ask(question)
    # the September report is within the margin of the best: it moves ahead, the rest keep theirs
    assert [p.article_id for p in answer.passages] == [RICE_SEP, RICE_FEB, KPK, ARREST]
    assert [c.article_id for c in answer.citations] == [RICE_SEP]


@pytest.fixture(scope="module")
def election_settings(settings_factory, embedder, tmp_path_factory):
    """Two articles from before the Jakarta election of Wednesday 27 November 2024 (the day
    the KPU article gives), none after it."""
    articles = {
        "2024-11-20_kpu_pilkada": (
            "KPU pastikan pilkada Jakarta siap",
            "Kabar Dunia",
            "Komisi Pemilihan Umum (KPU) DKI Jakarta memastikan pemungutan suara Pilkada serentak digelar "
            "Rabu (27/11) di 14.835 tempat pemungutan suara.\n\nKetua KPU DKI Jakarta mengatakan hasil "
            "rekapitulasi resmi pilkada diumumkan pada pertengahan Desember.",
        ),
        ARREST: ARTICLES[ARREST],
    }
    settings = settings_factory(today=date(2025, 3, 1))
    _ingest(tmp_path_factory.mktemp("election"), articles, settings, embedder)
    return settings


def test_an_event_bound_with_nothing_on_its_side_widens_when_no_news_is_asked(election_settings, embedder):
    chat = RecordingChat(responses=["Hasil rekapitulasi resmi diumumkan pada pertengahan Desember [1]."])
    answer = bot_for(election_settings, embedder, chat).ask(
        "Kapan hasil rekapitulasi diumumkan setelah pilkada?"
    )
    assert [p.article_id for p in answer.passages] == ["2024-11-20_kpu_pilkada", ARREST]
    assert answer.text == (
        "Hasil rekapitulasi resmi diumumkan pada pertengahan Desember [1]. "
        '("setelah pilkada": dihitung dari Rabu, 27 November 2024, tanggal yang disebut artikel.)'
    )


def test_an_event_bound_with_nothing_on_its_side_says_so_when_news_is_asked(election_settings, embedder):
    chat = RecordingChat(responses=["tidak dipanggil"])
    answer = bot_for(election_settings, embedder, chat).ask("Berita setelah pilkada?")
    assert (answer.found, answer.passages, chat.prompts) == (False, (), [])
    assert answer.text == (
        'Tidak ada artikel di korpus yang terbit pada waktu yang ditanyakan ("setelah pilkada": sejak '
        "Kamis, 28 November 2024). Artikel bertanggal di korpus terbit antara Selasa, 5 November 2024 "
        "dan Rabu, 20 November 2024: tanyakan tanpa keterangan waktu, atau tambahkan artikel yang lebih baru."
    )


@pytest.mark.slow
def test_the_kpk_question_is_answered_from_the_2025_report_by_the_real_model(news_settings, embedder, llm):
    answer = bot_for(news_settings, embedder, llm).ask("Berapa persen realisasi anggaran KPK pada 2022?")
    assert answer.found, answer.text
    assert [c.article_id for c in answer.citations] == [KPK]
    assert "96,4 persen" in answer.text and "91,2" not in answer.text, answer.text
