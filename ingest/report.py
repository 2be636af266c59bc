"""The ingest report: what changed, what was skipped and why."""

from __future__ import annotations

from dataclasses import dataclass, field


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
        """The full human-readable report."""
        lines = [
            f"Ingest: {self.summary()} ({self.chunks_written} chunks written, "
            f"{self.chunks_deleted} deleted, {self.seconds:.1f} s)"
        ]
        for label, ids in (("added", self.added), ("updated", self.updated), ("removed", self.removed)):
            for article_id in ids:
                lines.append(f"  {label}: {article_id}")
        for what, why in self.skipped:
            lines.append(f"  skipped: {what}: {why}")
        for what, note in self.notes:
            lines.append(f"  note: {what}: {note}")
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
        }
