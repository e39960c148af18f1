"""eval/make_rustbook_markdown.py: the Rust book's HTML pages back in the shape of their
mdBook sources, and the suite entry that asks the same questions of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.eval.suite import entry_data, load_suite
from tests.evalscripts import load_script

book = load_script("make_rustbook_markdown")

CHAPTER = """<html><body><main>
<h1 id="structs"><a class="header" href="#structs">Using Structs to Structure Related Data</a></h1>
<p>Intro.</p></main></body></html>"""

PAGE = """<html><body><main>
<h2 id="method-syntax"><a class="header" href="#method-syntax">Method Syntax</a></h2>
<p><em>Methods</em> are like functions, see
<a href="ch06-00-enums.html">Chapter 6</a><!-- ignore -->
and <a href="ch17-02-trait-objects.html#objects">objects</a>.</p>
<p><span class="filename">Filename: src/main.rs</span></p>
<pre><pre class="playground"><code class="language-rust">struct Rectangle {
    width: u32,
}
impl Rectangle {}
</code></pre></pre>
<p><span class="caption">Listing 5-13: Defining an <code>area</code> method</span></p>
<pre><code class="language-text">Can rect1 hold rect2? true
</code></pre>
<ul><li>one <code>&amp;self</code></li><li>two</li></ul>
<blockquote><p>A note.</p></blockquote>
</main></body></html>"""


def _book(folder: Path) -> Path:
    folder.mkdir()
    (folder / "ch05-00-structs.html").write_text(CHAPTER, encoding="utf-8")
    (folder / "ch05-03-method-syntax.html").write_text(PAGE, encoding="utf-8")
    return folder


def test_a_page_becomes_an_mdbook_source(tmp_path: Path) -> None:
    source, target = _book(tmp_path / "html"), tmp_path / "md"
    assert book.main([str(source), str(target)]) == 0
    text = (target / "ch05-03-method-syntax.md").read_text(encoding="utf-8")
    lines = text.split("\n")
    assert lines[0] == "## Method Syntax"
    # A listing is an include directive under the chapter's listings folder, as in the
    # sources; a short block stays inline.
    assert (
        "```rust\n{{#rustdoc_include ../listings/ch05-using-structs-to-structure-related-data"
        "/listing-05-13/src/main.rs}}\n```" in text
    )
    assert "```text\nCan rect1 hold rect2? true\n```" in text
    assert "struct Rectangle" not in text
    # Reference links with their definitions at the end; the page's comment is not text.
    assert "see\n[Chapter 6][enums]<!-- ignore -->\nand [objects][objects]<!-- ignore -->." in text
    assert lines[-3:] == [
        "[enums]: ch06-00-enums.html",
        "[objects]: ch17-02-trait-objects.html#objects",
        "",
    ]
    assert '<span class="caption">Listing 5-13: Defining an `area` method</span>' in text
    assert "*Methods* are like functions" in text
    assert "* one `&self`\n* two" in text and "> A note." in text


def test_no_pages_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert book.main([str(tmp_path), str(tmp_path / "out")]) == 1
    assert "make rust-book" in capsys.readouterr().err


def test_a_suite_entry_reads_gold_files_with_its_suffix(tmp_path: Path) -> None:
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "ch01.md").write_text("## Hello\n\nHello, world.\n", encoding="utf-8")
    question = {"id": "q1", "question": "How do I say hello?", "files": ["ch01.html"]}
    (tmp_path / "q.jsonl").write_text(json.dumps(question) + "\n", encoding="utf-8")
    entry = {"name": "md", "questions": "q.jsonl", "corpus": "book", "gold_suffix": ".md"}
    (tmp_path / "s.json").write_text(json.dumps({"suite": [entry]}), encoding="utf-8")
    documents, questions = entry_data(load_suite(tmp_path / "s.json")[0])
    assert [d.doc_id for d in documents] == ["ch01.md"]
    assert questions[0].files == ("ch01.md",)
    entry["gold_suffix"] = "md"
    (tmp_path / "s.json").write_text(json.dumps({"suite": [entry]}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"entry 1 \(md\): 'gold_suffix' must be a file suffix"):
        load_suite(tmp_path / "s.json")
