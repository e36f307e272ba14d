"""Indexing a knowledge folder: only new and changed files are read again; what documents and passages look like."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import load_config
from bot.config_errors import ConfigError
from bot.knowledge.blocks import Block, markdown_blocks
from bot.knowledge.citations import Citation, footer
from bot.knowledge.commands import KnowledgeCommands
from bot.knowledge.config import KnowledgeConfig
from bot.knowledge.documents import read_document
from bot.knowledge.grounding import Knowledge
from bot.knowledge.index import index_folder
from bot.knowledge.passages import passages
from bot.knowledge.shelf import Shelf
from bot.store import Store
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.helpdesk import CORPUS, helpdesk_copy

FILES = sum(1 for path in CORPUS.rglob("*") if path.is_file()) + 1  # and the PDF


def later(path: Path, seconds: int = 10) -> None:
    """Move a file's modification time on, as an edit a few seconds later would."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 1_000_000_000))


async def test_only_the_changed_file_is_indexed_again(tmp_path: Path, store: Store) -> None:
    folder = helpdesk_copy(tmp_path)
    source = KnowledgeConfig(path=folder)
    shelf = Shelf(store, "it")
    first = await index_folder("it", source, shelf)
    assert (len(first.indexed), first.unchanged, first.removed, first.unreadable) == (FILES, 0, [], [])
    assert first.files == FILES and first.passages > FILES
    version = await shelf.version()

    again = await index_folder("it", source, shelf)
    assert (again.indexed, again.unchanged, await shelf.version()) == ([], FILES, version), "nothing read again"

    vpn = folder / "it" / "vpn.md"
    vpn.write_text(vpn.read_text().replace("vpn.example.com", "gateway.example.org"))
    later(vpn)
    later(folder / "it" / "printers.md")  # touched, not changed: hashed, not parsed again
    changed = await index_folder("it", source, shelf)
    assert changed.indexed == ["it/vpn.md"]
    assert changed.unchanged == FILES - 1 and changed.removed == []
    assert await shelf.version() == (version or 0) + 1
    stored = await shelf.files()
    assert "gateway.example.org" in " ".join(p.text for p in stored["it/vpn.md"].passages)
    assert stored["it/printers.md"].mtime_ns == (folder / "it" / "printers.md").stat().st_mtime_ns

    (folder / "office" / "parking.md").unlink()
    (folder / "it" / "new-printer.md").write_text("# Plotter\n\nThe plotter prints A0 posters.\n")
    (folder / "it" / "notes.docx").write_bytes(b"not a kind parley reads")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD.md").write_text("hidden folders are left out")
    moved = await index_folder("it", source, shelf)
    assert (moved.indexed, moved.removed) == (["it/new-printer.md"], ["office/parking.md"])
    assert sorted(await shelf.files()) == sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*.*") if p.suffix != ".docx" and ".git" not in p.parts
    )


async def test_a_running_process_searches_the_new_index(tmp_path: Path, store: Store) -> None:
    folder = helpdesk_copy(tmp_path)
    source = KnowledgeConfig(path=folder)
    knowledge = Knowledge(make_config("http://127.0.0.1:9/v1", store.prefix, knowledge={"it": source}), store)
    assert await knowledge.retriever("it") is None, "never indexed"
    await index_folder("it", source, Shelf(store, "it"))
    assert [hit.passage.document for hit in await knowledge.search(["it"], "plotter posters", 3)][:1] == [
        "it/printers.md"
    ]
    (folder / "it" / "plotter.md").write_text("# Plotter\n\nThe plotter prints A0 posters for the fair.\n")
    await index_folder("it", source, Shelf(store, "it"))
    hits = await knowledge.search(["it"], "plotter posters", 3)
    assert hits[0].passage.document == "it/plotter.md", "rebuilt when the version moved"


async def test_an_unreadable_file_is_reported_and_left_out(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 nothing more")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02")
    (folder / "ok.md").write_text("# Fine\n\nReadable.\n")
    report = await index_folder("docs", KnowledgeConfig(path=folder), Shelf(store, "docs"))
    assert report.indexed == ["ok.md"]
    assert report.unreadable == [("binary.txt", "it is not text"), ("broken.pdf", "it is not a PDF parley can read")]
    assert "  not read: broken.pdf (it is not a PDF parley can read)" in report.text()


async def test_the_index_command_names_a_missing_folder_and_unknown_sources(
    tmp_path: Path, store: Store, fake: FakeOpenAI
) -> None:
    config = make_config(fake.url, store.prefix, knowledge={"it": KnowledgeConfig(path=tmp_path / "nowhere")})
    commands = KnowledgeCommands(config, store)
    with pytest.raises(ConfigError, match=r"\[knowledge.it\] path: .*nowhere is not a folder"):
        await commands.index("it")
    with pytest.raises(ConfigError, match="unknown knowledge source 'hr'; configured: it"):
        await commands.index("hr")
    with pytest.raises(ConfigError, match=r"no knowledge source to index; none are configured \(add a \[knowledge"):
        await KnowledgeCommands(make_config(fake.url, store.prefix), store).index()


def test_markdown_keeps_its_headings_as_the_passages_titles() -> None:
    text = "# VPN\n\nIntro.\n\n## Setup\n\nStep one.\n\n```sh\n# not a heading\n```\n\n"
    text += "### On macOS\n\nMac.\n\n## Help\n\nAsk."
    document = read_document("it/vpn.md", text.encode())
    assert document.title == "VPN"
    assert [(s.heading, s.text) for s in document.sections] == [
        ("", "Intro."),
        ("Setup", "Step one.\n\n```sh\n# not a heading\n```"),
        ("Setup > On macOS", "Mac."),
        ("Help", "Ask."),
    ]
    assert [p.label for p in passages("it/vpn.md", document)] == ["VPN", "VPN > Setup", "VPN > Setup > On macOS",
                                                                  "VPN > Help"]  # fmt: skip
    assert markdown_blocks("## Only\n\ntext") == [Block(2, "Only"), Block(0, "text")]


def test_titles_come_from_front_matter_html_pdf_or_the_file_name() -> None:
    front = read_document("a.md", b"---\ntitle: 'Laptop policy'\nowner: it\n---\n# Laptops\n\nText.\n")
    assert front.title == "Laptop policy" and front.sections[0].heading == "Laptops"
    page = read_document("p.html", (CORPUS / "it" / "wifi.html").read_bytes())
    assert page.title == "Wi-Fi in the offices"
    assert [s.heading for s in page.sections] == ["", "Guest Wi-Fi", "Phones"]
    assert "tracking" not in str(page) and "font-family" not in str(page), "scripts and styles are left out"
    assert read_document("hr/expense-claims_2026.txt", b"Claims.").title == "Expense claims 2026"


def test_a_long_paragraph_is_cut_into_passages() -> None:
    words = " ".join(f"w{n}" for n in range(400))
    document = read_document("long.txt", f"short one\n\n{words}\n\nlast".encode())
    cut = passages("long.txt", document, max_words=180)
    assert [len(p.text.split()) for p in cut] == [2, 180, 180, 41]
    assert cut[-1].text.endswith("w399\n\nlast")


def test_the_footer_links_titles_when_the_source_has_a_base_url() -> None:
    source = KnowledgeConfig(path=Path("docs"), base_url="https://wiki.example.com/it")
    assert source.link("how to/VPN (new).md") == "https://wiki.example.com/it/how%20to/VPN%20%28new%29.md"
    cited = [Citation("VPN [beta]", source.link("vpn.md")), Citation("Printers", None)]
    assert footer(cited) == "\n\nSources: [VPN (beta)](https://wiki.example.com/it/vpn.md) · Printers"
    assert footer([]) == ""


def test_a_knowledge_name_is_one_word(tmp_path: Path) -> None:
    path = tmp_path / "parley.toml"
    path.write_text('[knowledge."it docs"]\npath = "docs"\n')
    with pytest.raises(ConfigError, match=r"knowledge: 'it docs' is not a knowledge name: use letters"):
        load_config(path, {})
    path.write_text('[knowledge.it-docs]\npath = "docs"\n\n[[channels]]\nmatch = "console:*"\nknowledge = "it-docs"\n')
    assert load_config(path, {}).channels[0].settings["knowledge"] == ["it-docs"]
