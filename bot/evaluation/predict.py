"""Parse held-out messages with a trained model, in process, alone or inside a conversation.

The public prediction API of ``bot.evaluation``: :class:`Parser` (a loaded model),
:meth:`Parser.parse_all` and :func:`predict_intents`, which return :class:`Predictions`.
``python -m bot.evaluation`` and the staff loop's held-out check (``bot.staff.evaluate``)
both use it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

Parse = Dict[str, Any]


@dataclass(frozen=True)
class Predictions:
    """A model's parse of each text, in order, and what parsing cost."""

    parses: List[Parse]
    ms_per_message: float

    @property
    def intents(self) -> List[str]:
        """The intent name of each parse (``None`` as ``"None"``)."""
        return [intent_of(p) for p in self.parses]


class Parser:
    """A loaded model that parses texts, optionally after a previous turn or inside the form."""

    def __init__(self, model: str) -> None:
        from rasa.core.agent import Agent
        from rasa.utils.log_utils import configure_structlog

        # Rasa's structured log prints every parsed text at debug level: keep reports readable.
        configure_structlog(logging.WARNING)
        self.agent = Agent.load(model)

    async def parse(self, text: str, previous: Optional[Tuple[str, Parse]] = None,
                    requested_slot: Optional[str] = None) -> Parse:
        from rasa.core.channels.channel import UserMessage
        from rasa.shared.core.events import ActiveLoop, SlotSet, UserUttered
        from rasa.shared.core.trackers import DialogueStateTracker

        events: List[Any] = []
        if previous is not None:
            events.append(UserUttered(previous[0], previous[1].get("intent"), parse_data=previous[1]))
        if requested_slot is not None:
            events += [ActiveLoop("booking_form"), SlotSet("requested_slot", requested_slot)]
        processor = self.agent.processor
        assert processor is not None
        tracker = DialogueStateTracker.from_events("eval", events, slots=self.agent.domain.slots)
        return await processor.parse_message(UserMessage(text, sender_id="eval"), tracker)

    async def parse_all(self, texts: Sequence[str]) -> Predictions:
        """Each text's parse, alone (no earlier turn), and the milliseconds per message."""
        began = time.perf_counter()
        parses = [await self.parse(text) for text in texts]
        return Predictions(parses, (time.perf_counter() - began) * 1000 / max(1, len(texts)))


def intent_of(parsed: Parse) -> str:
    return str((parsed.get("intent") or {}).get("name"))


async def predict_intents(model: Any, texts: Sequence[str]) -> Predictions:
    """Load ``model`` (a path, or an already loaded :class:`Parser`) and parse each text."""
    parser = model if isinstance(model, Parser) else Parser(str(model))
    return await parser.parse_all(texts)
