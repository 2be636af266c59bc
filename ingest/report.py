"""The ingest report: what changed, what was skipped and why."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

# Bidirectional controls can make a name read as another one ("Trojan Source").
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` on one line that shows what it holds: control characters, line and paragraph
    separators and bidirectional controls are escaped, the rest is left as it is.

    File names may hold any of these, and one newline in a name would start a report line
    of its own.

    Example:
        >>> printable("berita\\nbaru\\u2028.md")
        'berita\\\\nbaru\\\\u2028.md'
    """
    out = []
    for ch in text:
        if ch in _SHORT:
            out.append(_SHORT[ch])
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


@dataclass
class IngestReport:
    """Article ids per outcome, plus skipped files/lines with the reason."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (what, note)
    chunks_written: int = 0
    chunks_deleted: int = 0
    seconds: float = 0.0
    # Of ``seconds``, loading the embedding model (0 when nothing needed embedding).
    model_seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        """One line with the counts, e.g. ``added 1, updated 0, unchanged 3, removed 0, skipped 1``."""
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
            f"removed {len(self.removed)}, skipped {len(self.skipped)}"
        )

    def render(self) -> str:
        """The full human-readable report, one line per item (names escaped with
        :func:`printable`; :meth:`to_dict` keeps them as they are)."""
        lines = [
            f"Ingest: {self.summary()} ({self.chunks_written} chunks written, "
            f"{self.chunks_deleted} deleted, {self.seconds:.1f} s"
            + (
                f", {self.model_seconds:.1f} s of it loading the embedding model)"
                if self.model_seconds
                else ")"
            )
        ]
        for label, ids in (("added", self.added), ("updated", self.updated), ("removed", self.removed)):
            for article_id in ids:
                lines.append(f"  {label}: {printable(article_id)}")
        for what, why in self.skipped:
            lines.append(f"  skipped: {printable(what)}: {printable(why)}")
        for what, note in self.notes:
            lines.append(f"  note: {printable(what)}: {printable(note)}")
        if not self.changed:
            lines.append("No changes: the store already matches the corpus.")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": [{"what": w, "why": y} for w, y in self.skipped],
            "notes": [{"what": w, "note": n} for w, n in self.notes],
            "chunks_written": self.chunks_written,
            "chunks_deleted": self.chunks_deleted,
            "seconds": round(self.seconds, 3),
            "model_seconds": round(self.model_seconds, 3),
        }
