"""The int8 ONNX export of a sentence-transformers model, run with ONNX Runtime."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# The file in an export folder that says how it was made (prompts, inputs, dimension).
ONNX_MARKER = "qa_bot_onnx.json"


class OnnxSentenceEncoder:
    """An int8 ONNX export run with ONNX Runtime, with the slice of sentence-transformers'
    ``encode`` the embedder uses. Loads neither torch nor transformers (less memory).
    """

    def __init__(self, folder: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = json.loads((Path(folder) / ONNX_MARKER).read_text())
        self.folder = Path(folder)
        self.prompts: dict[str, str] = meta["prompts"]
        self._inputs: list[str] = meta["inputs"]
        self._dimension = int(meta["dimension"])
        self._normalized = bool(meta["normalized"])
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(meta["max_seq_length"]))
        self.tokenizer.enable_padding(pad_id=int(meta["pad_token_id"]), pad_token=meta["pad_token"])
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(self.folder / meta["file"]), options, providers=["CPUExecutionProvider"]
        )

    def get_embedding_dimension(self) -> int:
        return self._dimension

    def encode(
        self,
        sentences: Sequence[str],
        prompt: str | None = None,
        normalize_embeddings: bool = False,
        batch_size: int = 32,
        **_: Any,
    ) -> np.ndarray:
        """Vectors of ``sentences`` (numpy, float32), batch by batch in the order given."""
        import numpy as np

        texts = [(prompt or "") + t for t in sentences]
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for i in range(0, len(texts), batch_size):
            encodings = self.tokenizer.encode_batch(texts[i : i + batch_size])
            columns = {
                "input_ids": [e.ids for e in encodings],
                "attention_mask": [e.attention_mask for e in encodings],
                "token_type_ids": [e.type_ids for e in encodings],
            }
            feed = {name: np.asarray(columns[name], dtype=np.int64) for name in self._inputs}
            out[i : i + len(encodings)] = self.session.run(None, feed)[0]
        if normalize_embeddings and not self._normalized:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out
