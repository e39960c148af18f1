"""An ask result as `qa ask` prints it: the answer (or the guess it withheld), where it is
cited from, and the passages. Pure text from the domain types."""

from __future__ import annotations

from typing import Any


def _where(page: int | None, section: str | None) -> str:
    """Where a citation sits, as a reader looks for it: its page, or its heading."""
    return (f" p. {page}" if page else "") + (f" § {section}" if section else "")


#: How `qa ask` labels the answer it withheld: a guess, never an answer.
WITHHELD_LABEL = "Best guess, not confident enough"


def _answer_lines(a: Any, label: str) -> list[str]:
    """An answer (given or withheld) as `qa ask` prints it: sentence, short answer, citation."""
    lines = [f"{label} (confidence {a.confidence:.2f}): {a.text}"]
    if a.short is not None:
        lines.append(f"  short answer: {a.short.text} [{a.short.start}:{a.short.end}]")
    lines.append(f"  cited from {a.doc_id} [{a.start}:{a.end}]{_where(a.page, a.section)}")
    return lines


def format_result(result: Any) -> str:
    if result.answer is not None:
        lines = [*_answer_lines(result.answer, "Answer"), "", "Passages:"]
    elif result.withheld is None:
        lines = [
            f"The documents don't answer this (confidence {result.confidence:.2f})."
            " The closest passages:"
        ]
    else:
        # What it would have said, for the reader to judge: labelled as a guess, and
        # apart from the passages, which are still only the closest ones.
        lines = [
            f"The documents don't answer this (confidence {result.confidence:.2f}).",
            *_answer_lines(result.withheld, WITHHELD_LABEL),
            "",
            "Closest passages:",
        ]
    for p in result.passages:
        meta = ", ".join(str(p.metadata[k]) for k in ("date", "source") if p.metadata.get(k))
        lines.append(f"{p.rank:>2}. {p.title}" + (f" ({meta})" if meta else ""))
        where = _where(p.page, p.section)
        lines.append(
            f"    {p.chunk.doc_id} [{p.chunk.start}:{p.chunk.end}]{where}  score {p.score:.3f}"
        )
        snippet = " ".join(p.chunk.text.split())
        lines.append(f"    {snippet[:240]}{'…' if len(snippet) > 240 else ''}")
    return "\n".join(lines)
