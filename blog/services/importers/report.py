"""What an import did: counts per kind, and every item skipped or changed with the reason."""
from __future__ import annotations

from collections import Counter
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field

#: The order kinds appear in the summary.
KINDS = ("user", "category", "tag", "media", "post", "page", "comment", "redirect")


@dataclass(frozen=True)
class Line:
    #: ``skipped`` (not imported), ``changed`` (imported, but not as it was) or ``note``.
    action: str
    kind: str
    item: str
    reason: str


@dataclass
class Report:
    format: str
    source: str
    dry_run: bool = False
    #: kind -> {"created": n, "updated": n, "skipped": n}
    counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    lines: list[Line] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, kind: str, outcome: str) -> None:
        self.counts[kind][outcome] += 1

    def skipped(self, kind: str, item: str, reason: str) -> None:
        self.count(kind, "skipped")
        self.lines.append(Line("skipped", kind, item, reason))

    def changed(self, kind: str, item: str, reason: str) -> None:
        self.lines.append(Line("changed", kind, item, reason))

    def note(self, kind: str, item: str, reason: str) -> None:
        self.lines.append(Line("note", kind, item, reason))

    def total(self, kind: str, outcome: str | None = None) -> int:
        counts = self.counts.get(kind, Counter())
        return counts[outcome] if outcome else counts["created"] + counts["updated"]

    def summary(self) -> str:
        """One line per kind: ``post: 58 created, 0 updated, 1 skipped``."""
        kinds = [k for k in KINDS if k in self.counts] + sorted(k for k in self.counts if k not in KINDS)
        rows = [f"{kind}: {c['created']} created, {c['updated']} updated, {c['skipped']} skipped"
                for kind, c in ((k, self.counts[k]) for k in kinds)]
        head = f"{'Dry run of the import' if self.dry_run else 'Imported'} {self.source} ({self.format}) in {self.seconds:.1f}s"
        return "\n".join([head, *rows])

    def text(self) -> str:
        """The summary, then every skipped, changed or noted item."""
        body = [f"  {line.action:8} {line.kind:9} {line.item}: {line.reason}" for line in self.lines]
        return "\n".join([self.summary(), *(["Details:", *body] if body else [])])

    def as_dict(self) -> dict:
        """The report as plain data (JSON)."""
        return {"format": self.format, "source": self.source, "dry_run": self.dry_run, "seconds": round(self.seconds, 2),
                "counts": {kind: dict(c) for kind, c in self.counts.items()},
                "lines": [line.__dict__ for line in self.lines]}
