"""Turn one assistant turn (Rasa's messages) into what a messaging channel can show.

Pure functions, no I/O, so every rule is unit-tested (tests/unit/test_channel_format.py):

- buttons stay buttons where the channel has them, and become a numbered list in the text
  where it has none (SMS, WhatsApp through Twilio) or cannot show them as they are (too many,
  a title or payload over the channel's limit); :func:`numbered_options` and
  :func:`pick_option` let a reply of "2" pick option 2 afterwards;
- a reply is laid out from its structured ``custom`` object (``bot.reply``), never by
  taking its text apart: the text parts, a line per crisis resource, and a short source
  line with the DOI link (the reply's own when it carries the link); the ``custom`` object
  itself is never sent raw;
- long texts are split within the channel's limit at a paragraph or sentence boundary.

Lengths are measured in UTF-16 code units, as Telegram counts them; that is never less
than the characters Twilio, Messenger and Slack count, so every limit holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from bot import reply as said

NUMBERED_INTRO = "Reply with a number:"


@dataclass(frozen=True)
class ChannelProfile:
    """What a channel can display. ``max_buttons == 0`` means it has no buttons."""

    name: str
    max_chars: int
    max_buttons: int = 0
    max_title: int = 0
    max_payload_bytes: int = 0


PROFILES: Dict[str, ChannelProfile] = {
    # Twilio's Messages API takes at most 1,600 characters per body (it sends long SMS as
    # concatenated segments). WhatsApp itself allows 4,096, but the body still goes through
    # the same Twilio parameter, so 1,600 is the limit that is sure to be accepted.
    "sms": ChannelProfile("sms", max_chars=1600),
    "whatsapp": ChannelProfile("whatsapp", max_chars=1600),
    # sendMessage text: 4,096; inline keyboard callback_data: 1-64 bytes.
    "telegram": ChannelProfile("telegram", 4096, max_buttons=20, max_title=64,
                               max_payload_bytes=64),
    # Send API text: 2,000; quick replies: at most 13, title 20 characters, payload 1,000.
    "messenger": ChannelProfile("messenger", 2000, max_buttons=13, max_title=20,
                                max_payload_bytes=1000),
    # Slack section blocks take 3,000 characters (the message text 40,000; slack.py puts
    # each part in its own section); an actions block at most 25 buttons, a button label
    # 75 characters and a value 2,000.
    "slack": ChannelProfile("slack", 3000, max_buttons=25, max_title=75,
                            max_payload_bytes=2000),
}


@dataclass(frozen=True)
class Button:
    """A button as the channel shows it: the label and the payload sent back when tapped."""

    title: str
    payload: str


@dataclass(frozen=True)
class Option:
    """An option offered as a numbered line; ``number`` is what the person types."""

    number: int
    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    """One message to send: text within the channel's limit, and its native buttons."""

    text: str
    buttons: Tuple[Button, ...] = ()


# -- measuring and splitting -------------------------------------------------------------


def measure(text: str) -> int:
    """Length in UTF-16 code units (an emoji counts 2, as Telegram and Twilio count it)."""
    return len(text.encode("utf-16-le")) // 2


_PARAGRAPH = re.compile(r"\n\s*")
_SENTENCE = re.compile(r"[.!?…][\"'”’)\]]*(\s+)")
_SPACE = re.compile(r"\s+")


def _cut_points(text: str, start: int) -> Tuple[List[Tuple[int, int]], List[Tuple[int, int]]]:
    """(end of this part, start of the next) at line/sentence ends, and at other spaces."""
    strong = [(m.start(), m.end()) for m in _PARAGRAPH.finditer(text, start)]
    strong += [(m.start(1), m.end(1)) for m in _SENTENCE.finditer(text, start)]
    weak = [(m.start(), m.end()) for m in _SPACE.finditer(text, start)]
    return sorted(set(strong)), weak


def split_text(text: str, limit: int) -> List[str]:
    """Split ``text`` into parts of at most ``limit`` units, at a line or sentence end.

    A sentence longer than the limit is split between words, a word longer than the
    limit mid-word. Parts are stripped; no part is empty.
    """
    if limit <= 0:
        raise ValueError("limit must be positive")
    text = text.strip()
    parts: List[str] = []
    start = 0
    while start < len(text):
        if measure(text[start:]) <= limit:
            parts.append(text[start:].strip())
            break
        strong, weak = _cut_points(text, start)
        cut = _best_cut(text, start, limit, strong) or _best_cut(text, start, limit, weak)
        if cut is None:
            end = _hard_end(text, start, limit)
            cut = (end, end)
        parts.append(text[start:cut[0]].strip())
        start = cut[1]
        while start < len(text) and text[start].isspace():
            start += 1
    return [part for part in parts if part]


def _best_cut(
    text: str, start: int, limit: int, points: Sequence[Tuple[int, int]]
) -> Optional[Tuple[int, int]]:
    best = None
    for end, following in points:
        if end <= start:
            continue
        if measure(text[start:end]) > limit:
            break
        best = (end, following)
    return best


def _hard_end(text: str, start: int, limit: int) -> int:
    """The furthest end whose slice fits ``limit`` (never splits a surrogate pair)."""
    low, high = start + 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[start:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


# -- citations --------------------------------------------------------------------------------


def short_authors(authors: str) -> str:
    """'Zhu, F., Tu, H., & Chen, T.' -> 'Zhu, Tu & Chen' (unchanged if it cannot tell)."""
    surnames = re.findall(r"([A-Z][\w'’-]+),\s*(?:[A-Z]\.\s*-?)+", authors)
    if not surnames:
        return authors.strip()
    if len(surnames) == 1:
        return surnames[0]
    if len(surnames) > 3:
        return f"{surnames[0]} et al."
    return ", ".join(surnames[:-1]) + " & " + surnames[-1]


def doi_link(citation: Mapping[str, Any]) -> str:
    url = str(citation.get("url") or "")
    if "doi.org/" in url:
        return url
    doi = str(citation.get("doi") or "")
    return f"https://doi.org/{doi}" if doi else url


def source_line(citations: Iterable[Mapping[str, Any]]) -> str:
    """A one-line source for text-only channels, ending with the paper's DOI link.

    >>> source_line([{"kind": "paper", "authors": "Zhu, F., Tu, H., & Chen, T.",
    ...               "journal": "Nutrients", "year": 2022, "doi": "10.3390/nu14102081"}])
    'Source: Zhu, Tu & Chen, Nutrients 2022: https://doi.org/10.3390/nu14102081'
    """
    items = [c for c in citations if isinstance(c, Mapping)]
    article = next((c for c in items if c.get("kind") == "article"), None)
    paper = next((c for c in items if c.get("kind") == "paper"), None)
    clinic = next((c for c in items if c.get("kind") == "clinic"), None)
    if clinic and not (article or paper):
        # A practical answer: the clinic's own page (reply contract 3b).
        return f"Source: {clinic.get('title', '')}, {clinic.get('url', '')}".rstrip(", ")
    pieces = []
    if article:
        year = str(article.get("date") or "")[:4]
        who = str(article.get("publisher") or article.get("title") or "").strip()
        pieces.append(f"{who} ({year})" if year else who)
    if paper:
        pieces.append(
            f"{short_authors(str(paper.get('authors') or ''))}, "
            f"{paper.get('journal', '')} {paper.get('year', '')}".strip()
            + f": {doi_link(paper)}"
        )
    elif article and article.get("url"):
        pieces[-1] += f": {article['url']}"
    return "Source: " + ", citing ".join(p for p in pieces if p)


def _citation_links(citations: Iterable[Mapping[str, Any]]) -> List[str]:
    links = []
    for citation in citations:
        if isinstance(citation, Mapping) and citation.get("kind") == "paper":
            links.append(doi_link(citation))
        elif isinstance(citation, Mapping) and citation.get("kind") == "clinic":
            links.append(str(citation.get("url") or ""))
    return [link for link in links if link]


def laid_out(reply: said.Reply, earlier: str = "") -> str:
    """The reply's text for a messaging channel: lead-in, crisis lines, parts, source line.

    The source line is the reply's own when it (or the turn's ``earlier`` text) carries
    every citation link; otherwise one is made from the citations, with the DOI link.
    """
    lines = said.body_lines(reply)
    source = reply.source
    if reply.citations:
        shown = "\n".join([earlier, *lines, source])
        links = _citation_links(reply.citations)
        if not (links and all(link in shown for link in links)):
            source = source_line(reply.citations)
    return "\n".join(lines + ([source] if source else [])).strip()


# -- buttons -------------------------------------------------------------------------------


def _buttons(message: Mapping[str, Any]) -> List[Button]:
    raw = message.get("buttons") or message.get("quick_replies") or []
    buttons = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, Mapping) and item.get("title") and item.get("payload"):
            buttons.append(Button(str(item["title"]), str(item["payload"])))
    return buttons


def shows_numbers(buttons: Sequence[Button], profile: ChannelProfile) -> bool:
    """Whether the channel shows these options as a numbered list in the text."""
    if not buttons:
        return False
    return (
        profile.max_buttons == 0
        or len(buttons) > profile.max_buttons
        or any(len(b.title) > profile.max_title for b in buttons)
        or any(len(b.payload.encode("utf-8")) > profile.max_payload_bytes for b in buttons)
    )


def _native_buttons(
    buttons: Sequence[Button], options: Sequence[Option], profile: ChannelProfile
) -> Tuple[Button, ...]:
    """Buttons to attach: the real ones, or numbers standing for a numbered list."""
    if not options:
        return tuple(buttons)
    if (
        profile.max_buttons
        and len(options) <= profile.max_buttons
        and all(len(o.payload.encode("utf-8")) <= profile.max_payload_bytes for o in options)
    ):
        return tuple(Button(str(o.number), o.payload) for o in options)
    return ()


def numbered_list(options: Sequence[Option]) -> str:
    return "\n".join([NUMBERED_INTRO] + [f"{o.number}. {o.title}" for o in options])


# -- a whole turn --------------------------------------------------------------------------


@dataclass
class _Block:
    text: str
    buttons: List[Button]


def _media(message: Mapping[str, Any]) -> List[str]:
    links = []
    for key in ("image", "attachment"):
        value = message.get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            links.append(value)
    return links


def _blocks(messages: Sequence[Mapping[str, Any]]) -> List[_Block]:
    """One block per message with text or buttons; a structured reply is laid out here."""
    blocks: List[_Block] = []
    for message in messages:
        reply = said.from_message(message)
        if reply is None:
            text = str(message.get("text") or "").strip()
            buttons = _buttons(message)
        else:
            text = laid_out(reply, "\n".join(b.text for b in blocks))
            buttons = _buttons({"buttons": [dict(b) for b in reply.buttons]})
        text = "\n".join([text, *_media(message)]).strip()
        if text or buttons:
            blocks.append(_Block(text, buttons))
    return blocks


def _numbered(blocks: Sequence[_Block], profile: ChannelProfile) -> List[List[Option]]:
    """Per block, the options shown as numbered lines; numbers run on through the turn."""
    result: List[List[Option]] = []
    number = 0
    for block in blocks:
        options: List[Option] = []
        if shows_numbers(block.buttons, profile):
            for button in block.buttons:
                number += 1
                options.append(Option(number, button.title, button.payload))
        result.append(options)
    return result


def numbered_options(
    messages: Sequence[Mapping[str, Any]], profile: ChannelProfile
) -> List[Option]:
    """The numbered options a turn showed on this channel, in order.

    The channels call this with the bot messages of the previous turn (read back from the
    tracker), so the number a person types maps to the payload of the option they saw.
    """
    return [o for options in _numbered(_blocks(messages), profile) for o in options]


_CHOICE = re.compile(r"^\s*(?:#|no\.?|number|option)?\s*(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE)


def is_choice(text: str) -> bool:
    """Whether ``text`` is a bare option number like "2", "2." or "#2"."""
    return bool(_CHOICE.match(text or ""))


def pick_option(text: str, options: Sequence[Option]) -> Optional[Option]:
    """The option a bare number picks, or None (not a number, or no such option)."""
    match = _CHOICE.match(text or "")
    if not match:
        return None
    number = int(match.group(1))
    return next((o for o in options if o.number == number), None)


def render_turn(
    messages: Sequence[Mapping[str, Any]], profile: ChannelProfile
) -> List[Reply]:
    """The messages to send for one turn on a channel with ``profile``."""
    replies: List[Reply] = []
    blocks = _blocks(messages)
    for block, options in zip(blocks, _numbered(blocks, profile)):
        text = block.text
        if options:
            text = f"{text}\n\n{numbered_list(options)}" if text else numbered_list(options)
        buttons = _native_buttons(block.buttons, options, profile)
        parts = split_text(text, profile.max_chars) if text else []
        if not parts:
            # buttons with no text: channels need something to hang them on
            parts = [NUMBERED_INTRO if options else "Please choose:"]
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            replies.append(Reply(part, buttons if last else ()))
    return replies


def bot_messages_of_last_turn(events: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The bot messages after the latest user message, from tracker events as dicts."""
    messages: List[Dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            messages = []
        elif kind == "bot":
            data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
            messages.append({"text": event.get("text"), **(data or {})})
    return messages
