"""A grounded answer's sources footer, as Slack shows it: the core's Markdown links become Slack's own."""

from __future__ import annotations

from pathlib import Path

from adapters.slack.mrkdwn import Mrkdwn
from bot.knowledge.citations import Citation, footer
from bot.knowledge.config import KnowledgeConfig


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
