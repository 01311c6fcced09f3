"""Which visits of a short link are clicks (F8).

Link previews (chat apps, social networks) and mail or security scanners open links that
nobody clicked. They still get the redirect, but they are not counted. Agents are matched
case-insensitively as substrings of the User-Agent header.
"""

from __future__ import annotations

PREVIEW_AGENTS = (
    # Chat apps and social networks that fetch a link to show a preview card.
    "facebookexternalhit",
    "facebot",
    "twitterbot",
    "slackbot",
    "whatsapp",
    "telegrambot",
    "linkedinbot",
    "discordbot",
    "skypeuripreview",
    "applebot",
    "redditbot",
    "pinterest",
    "vkshare",
    "snapchat",
    "viber",
    "embedly",
    "iframely",
    "bitlybot",
    # Search engines.
    "googlebot",
    "bingbot",
    "duckduckbot",
    "yandexbot",
    "baiduspider",
    # Mail and web security scanners that follow every link they see.
    "mimecast",
    "proofpoint",
    "barracuda",
    "zscaler",
    # Anything that says what it is.
    "crawler",
    "spider",
)


def is_preview_agent(user_agent: str) -> bool:
    """True for a link previewer or scanner, whose visit is not a click."""
    agent = user_agent.casefold()
    return any(known in agent for known in PREVIEW_AGENTS)
