"""`parley kb index` and `parley kb search` as a user runs them, and the [knowledge.NAME] tables checked."""

from __future__ import annotations

from pathlib import Path

from bot.knowledge.grounding import DONT_KNOW
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.helpdesk import BASE_URL, CORPUS, helpdesk_copy
from tests.support.parley_process import env, parley

__all__ = ["env"]

FILES = sum(1 for path in CORPUS.rglob("*") if path.is_file()) + 1  # and the PDF


def with_config(env: dict[str, str], tmp_path: Path, text: str) -> dict[str, str]:
    config = tmp_path / "parley.toml"
    config.write_text(text)
    return {**env, "PARLEY_CONFIG": str(config)}


async def test_index_then_search(env: dict[str, str], tmp_path: Path) -> None:
    folder = helpdesk_copy(tmp_path)
    env = with_config(env, tmp_path, f'[knowledge.it]\npath = "{folder}"\nbase_url = "{BASE_URL}"\n')
    code, out, err = await parley("kb", "search", "it", "vpn", env=env)
    assert (code, out) == (1, ""), err
    assert "kb it is not indexed yet: run `parley kb index it` first" in err

    code, out, err = await parley("kb", "index", env=env)
    assert code == 0, err
    assert out.startswith(f"kb it ({folder}): {FILES} files, ")
    assert f"{FILES} indexed, 0 unchanged, 0 removed" in out and "  indexed: it/vpn.md" in out

    code, out, err = await parley("kb", "search", "it", "How do I connect to the VPN from home?", env=env)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == (
        "kb it: 5 passage(s) for 'How do I connect to the VPN from home?' (used: a score of 1.5 or more and 50% of "
        "the best, 4 at most, within the prompt's budget)"
    )
    score, label = lines[1].split("  ")[:2]
    assert score.startswith("1. ") and float(score.removeprefix("1. ")) > 1.5
    assert label == "Connecting to the VPN > From home" and lines[1].endswith(f"({BASE_URL}it/vpn.md)")
    assert lines[2].startswith("   Open GlobalProtect from the menu bar, enter the portal address")
    assert lines[-2].endswith("(not used)"), "the fifth passage is past the source's 4"

    (folder / "it" / "vpn.md").write_text("# VPN\n\nThe VPN moved to gateway.example.org.\n")
    code, out, err = await parley("kb", "index", "it", env=env)
    assert code == 0, err
    assert f"1 indexed, {FILES - 1} unchanged, 0 removed" in out and "  indexed: it/vpn.md" in out
    code, out, err = await parley("kb", "search", "it", "gateway", env=env)
    assert "1. " in out and "(https://wiki.example.com/help/it/vpn.md)" in out and "gateway.example.org" in out
    code, out, err = await parley("kb", "search", "it", "capital of Australia", env=env)
    assert code == 0 and "kb it: 0 passage(s)" in out and "nothing matches" in out


async def test_unknown_sources_are_refused_with_the_configured_ones(env: dict[str, str], tmp_path: Path) -> None:
    env = with_config(env, tmp_path, f'[knowledge.it]\npath = "{tmp_path}"\n')
    code, _, err = await parley("kb", "index", "hr", env=env)
    assert code == 2 and "parley: unknown knowledge source 'hr'; configured: it" in err
    code, out, err = await parley("channel", "set", "slack:T1/C1", "knowledge", "it,", "hr", env=env)
    assert code == 1 and "Not changed: knowledge: unknown knowledge source 'hr'. Allowed: configured: it." in err
    code, out, err = await parley("channel", "set", "slack:T1/C1", "knowledge", "it", env=env)
    assert code == 0 and 'knowledge is now ["it"]' in out, err
    code, out, err = await parley("channel", "set", "slack:T1/C1", "grounded_only", "yes", env=env)
    assert code == 0 and "grounded_only is now true" in out, err


async def test_the_knowledge_tables_are_checked(env: dict[str, str], tmp_path: Path) -> None:
    bad = with_config(env, tmp_path, '[knowledge.it]\nbase_url = "wiki/it"\ncolour = "red"\n')
    code, _, err = await parley("config", "check", env=bad)
    assert code == 1
    assert "[knowledge.it] path: Field required" in err
    assert "[knowledge.it] base_url: a base_url starts with http:// or https://" in err
    assert "[knowledge.it] colour: unknown key; allowed here: path, base_url, min_score, passages" in err
    unknown = with_config(env, tmp_path, f'[knowledge.it]\npath = "{tmp_path}"\n\n[defaults]\nknowledge = "hr"\n')
    code, _, err = await parley("config", "check", env=unknown)
    assert code == 1 and "[defaults] knowledge: unknown knowledge source 'hr'; configured: it" in err


async def test_the_terminal_shows_the_sources_and_says_when_it_does_not_know(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenAI
) -> None:
    folder = helpdesk_copy(tmp_path)
    config = f'[knowledge.it]\npath = "{folder}"\nbase_url = "{BASE_URL}"\n\n[defaults]\nknowledge = "it"\n'
    env = with_config(env, tmp_path, config)
    assert (await parley("kb", "index", env=env))[0] == 0
    fake.queue(Reply("Open GlobalProtect and enter vpn.example.com."))
    code, out, err = await parley("chat", env=env, stdin="How do I connect to the VPN from home?\n")
    assert code == 0, err
    assert (
        out
        == f"Open GlobalProtect and enter vpn.example.com.\n\nSources: [Connecting to the VPN]({BASE_URL}it/vpn.md)\n"
    )
    assert "[1] Connecting to the VPN > From home\nOpen GlobalProtect" in fake.requests[-1]["messages"][0]["content"]

    env = with_config(env, tmp_path, config + "grounded_only = true\n")
    code, out, err = await parley("chat", env=env, stdin="What is the capital of Australia?\n")
    assert (code, out) == (0, DONT_KNOW + "\n"), err
    assert len(fake.requests) == 1, "the model was not called"
