"""A grounded answer's sources footer, as Slack shows it: the core's Markdown links become Slack's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.slack.config import SlackConfig
from adapters.slack.mrkdwn import Mrkdwn
from bot.config import Config
from bot.knowledge.citations import Citation, footer
from bot.knowledge.commands import KnowledgeCommands
from bot.knowledge.config import KnowledgeConfig
from bot.store import Store
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import FakeSlack
from tests.support.helpdesk import BASE_URL, helpdesk_copy
from tests.support.slack_harness import CHANNEL, Running, mention, running, slack, until

__all__ = ["running", "slack"]


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str, tmp_path: Path) -> Config:
    source = KnowledgeConfig(path=helpdesk_copy(tmp_path), base_url=BASE_URL)
    return make_config(
        fake.url,
        prefix,
        slack=SlackConfig(edit_interval=0.05, first_text_grace=0, native_streaming=False),
        knowledge={"it": source},
        defaults={"knowledge": ["it"]},
    )


def test_the_sources_footer_becomes_slack_links() -> None:
    source = KnowledgeConfig(path=Path("docs"), base_url="https://wiki.example.com/it/")
    cited = [
        Citation("Connecting to the VPN", source.link("vpn.md")),
        Citation("Printers & toner", source.link("printers and toner.md")),
        Citation("Leave policy", None),
    ]
    answer = "Open GlobalProtect." + footer(cited)
    assert Mrkdwn()(answer) == (
        "Open GlobalProtect.\n\nSources: <https://wiki.example.com/it/vpn.md|Connecting to the VPN> · "
        "<https://wiki.example.com/it/printers%20and%20toner.md|Printers &amp; toner> · Leave policy"
    )


async def test_a_grounded_answer_in_a_channel_ends_with_its_sources(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, config: Config, store: Store
) -> None:
    await KnowledgeCommands(config, store).index("it")
    fake.queue(Reply("Open **GlobalProtect** and enter the portal address."))
    event = mention("how do I connect to the VPN from home?")
    await running.event(event)
    expected = (
        f"Open *GlobalProtect* and enter the portal address.\n\nSources: <{BASE_URL}it/vpn.md|Connecting to the VPN>"
    )
    await until(lambda: any(m.text == expected for m in slack.thread(CHANNEL, event["ts"])), what="the footer")
    assert "vpn.example.com" in fake.requests[-1]["messages"][0]["content"]
