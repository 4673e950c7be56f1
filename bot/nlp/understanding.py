"""The rules that turn sentence vectors into an intent (no Rasa types; see semantic_classifier).

:class:`Reader` reads one message with the trained :class:`~bot.nlp.intent_model.IntentModel`,
the encoder and what the conversation says (:class:`Context`), and returns a :class:`Reading`.
Every threshold is a :class:`Settings` field, set in config.yml and measured by ``make eval``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol, Sequence

import numpy as np

from bot.nlp import reading as text_reading
from bot.nlp.intent_model import IntentModel

CRISIS = "crisis"
OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
# Intents that are not topics: never offered for clarification, never a follow-up's topic.
NOT_TOPICS = frozenset({
    CRISIS, OUT_OF_SCOPE, FALLBACK, "book_appointment", "personal_advice", "greet", "goodbye",
    "thanks", "help", "bot_challenge", "affirm", "deny", "cancel", "inform", "delete_my_data",
    "request_callback",
})
# A confident one of these is the person's own turn, never a follow-up ("thanks, that helps").
ENDS_A_TOPIC = frozenset({
    "greet", "goodbye", "thanks", "affirm", "deny", "cancel", "book_appointment",
    "delete_my_data", "personal_advice", "bot_challenge",
})
# Words that point back at what was just said: "is there research on *that*?" (while "which
# probiotic strains were studied?" names its own topic).
REFERRING_WORDS = frozenset({"that", "this", "it", "its", "those", "these", "them", "they", "there"})
# Answers inside a form: their wording is the person's own, so no similarity test applies.
FORM_ANSWERS = frozenset({"affirm", "deny", "cancel", "inform"})


class Encoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Settings:
    """The classifier's thresholds (config.yml; docs/understanding.md says how they were set)."""

    regularisation: float = 10.0
    min_similarity: float = 0.5  # the best intent's closest example must be at least this close
    min_confidence: float = 0.3  # below: unsure (nlu_fallback)
    ambiguity_margin: float = 0.1  # two topics closer than this: ask which was meant
    # Crisis: the margin of a sentence (or the whole message, or one clause of it) between its
    # closest crisis examples and its closest other examples (IntentModel.margin).
    crisis_neighbours: int = 3
    crisis_clear_margin: float = 0.02
    crisis_clear_clause_margin: float = 0.15
    crisis_weak_margin: float = -0.05
    crisis_weak_clause_margin: float = 0.05
    crisis_clause_sentences: int = 8  # clauses are read in the sentences nearest to a crisis
    follow_up_similarity: float = 0.75
    follow_up_max_words: int = 8
    # A message this close to an out-of-scope example (and closer than to the last topic's) is
    # an everyday request, never a follow-up ("call my mum" after a question about diet).
    follow_up_out_of_scope_similarity: float = 0.7
    # While the booking form asks for one of these, only the crisis patterns count.
    detail_slots: tuple[str, ...] = ("booking_name", "booking_contact", "booking_times",
                                     "callback_name", "callback_phone")
    ranking_length: int = 10

    def as_config(self) -> dict[str, Any]:
        config = asdict(self)
        config["detail_slots"] = list(self.detail_slots)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Settings:
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for name in known:
            if name in config and config[name] is not None:
                default = getattr(cls(), name)
                values[name] = (tuple(config[name]) if isinstance(default, tuple)
                                else type(default)(config[name]))
        return cls(**values)


@dataclass(frozen=True)
class Context:
    """What the conversation says about the message being read."""

    previous_topic: str | None = None
    previous_text: str | None = None
    requested_slot: str | None = None

    @classmethod
    def from_tracker(cls, tracker: Any) -> Context:
        """From a Rasa tracker (or ``None``): the last user turn, the slot being asked for."""
        if tracker is None:
            return cls()
        from rasa.shared.core.events import UserUttered

        requested = None
        if getattr(tracker, "active_loop_name", None):
            requested = tracker.get_slot("requested_slot")
        for event in reversed(list(getattr(tracker, "events", []) or [])):
            if isinstance(event, UserUttered):
                intent = (event.intent or {}).get("name")
                seen = (event.parse_data or {}).get("understanding") or {}
                text = seen.get("context_text") or event.text
                if intent == FALLBACK and seen.get("clarify"):
                    # Unsure between two topics: the follow-up may settle it ("which kind?").
                    intent = seen["clarify"][0]
                if intent and intent not in NOT_TOPICS and text:
                    return cls(str(intent), str(text), requested)
                break
        return cls(requested_slot=requested)


@dataclass
class Reading:
    intent: str
    confidence: float
    ranking: list[tuple[str, float]]
    read_as: str = "whole"
    similarity: float = 0.0
    crisis_level: str | None = None
    crisis_margin: float = -1.0
    crisis_clause_margin: float = -1.0
    clarify: list[str] = field(default_factory=list)
    follow_up_of: str | None = None
    context_text: str | None = None

    def as_parse(self) -> dict[str, Any]:
        understanding: dict[str, Any] = {
            "read_as": self.read_as, "similarity": round(self.similarity, 3)}
        if self.clarify:
            understanding["clarify"] = self.clarify
        if self.follow_up_of:
            understanding["follow_up_of"] = self.follow_up_of
            understanding["context_text"] = self.context_text
        return {
            "intent": {"name": self.intent, "confidence": round(self.confidence, 4)},
            "intent_ranking": [{"name": n, "confidence": round(c, 4)} for n, c in self.ranking],
            "understanding": understanding,
            "crisis_signal": {"level": self.crisis_level,
                              "margin": round(self.crisis_margin, 3),
                              "clause_margin": round(self.crisis_clause_margin, 3)},
        }


class Reader:
    """Read messages with one trained model (thread-safe: nothing changes after creation)."""

    def __init__(self, model: IntentModel, encoder: Encoder, settings: Settings,
                 cues: text_reading.FollowUpCues | None = None) -> None:
        self.model = model
        self.encoder = encoder
        self.settings = settings
        self.cues = cues or text_reading.load_cues()
        self._generic = encoder.encode(list(self.cues.generic)) if self.cues.generic else None
        self._crisis = model.index(CRISIS)

    # -- pieces -----------------------------------------------------------------------------
    def _scores(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.model.probabilities(vectors), self.model.nearest(vectors)

    def _crisis_signal(self, parts: list[str], vectors: np.ndarray) -> tuple[float, float]:
        """The highest crisis margin over the whole text and its sentences (``vectors``), and
        over the clauses of the sentences nearest to a crisis (at most
        ``crisis_clause_sentences`` of them: a long story costs a bounded time). Clauses are
        read for risk only; a topic is decided by whole sentences. Each margin is computed once.
        """
        if self._crisis is None:
            return -1.0, -1.0
        k = self.settings.crisis_neighbours
        margins = self.model.margin(vectors, CRISIS, k)
        sentence = float(margins.max())
        if not parts:
            return sentence, -1.0
        rows = margins[1:] if len(parts) > 1 else margins[:1]
        order = np.argsort(-rows)
        chosen = [parts[int(i)] for i in order[: self.settings.crisis_clause_sentences]]
        clauses = [c for one in chosen for c in text_reading.clauses(one)]
        if not clauses:
            return sentence, -1.0
        return sentence, float(self.model.margin(self.encoder.encode(clauses), CRISIS, k).max())

    def _crisis_level(self, sentence: float, clause: float, context: Context) -> str | None:
        s = self.settings
        if context.requested_slot in s.detail_slots:
            return None
        if sentence >= s.crisis_clear_margin or clause >= s.crisis_clear_clause_margin:
            return "clear"
        if sentence >= s.crisis_weak_margin or clause >= s.crisis_weak_clause_margin:
            return "weak"
        return None

    def _follow_up(self, text: str, vector: np.ndarray, probs: np.ndarray, near: np.ndarray,
                   context: Context) -> tuple[np.ndarray, np.ndarray, str] | None:
        """Scores read with the previous question, when this message is its follow-up."""
        if not context.previous_topic or not context.previous_text:
            return None
        if len(text_reading.words(text)) > self.settings.follow_up_max_words:
            return None
        # Crisis is judged by its margin, not here: its broad regression class must not make
        # "is it safe?" a non-follow-up.
        crisis = self.model.index(CRISIS)
        own_probs = probs.copy()
        if crisis is not None:
            own_probs[crisis] = 0.0
        own_index = int(own_probs.argmax())
        own, own_conf = self.model.labels[own_index], float(own_probs.max())
        cue = self.cues.has_cue(text)
        if own in ENDS_A_TOPIC and own_conf >= 0.7:
            return None
        if own in NOT_TOPICS - {OUT_OF_SCOPE} and own_conf >= 0.7 and not cue:
            return None
        index = self.model.index(context.previous_topic)
        if (self._generic is not None and index is not None
                and float((self._generic @ vector).max()) >= self.settings.follow_up_similarity):
            forced, close = np.zeros_like(probs), near.copy()
            forced[index], close[index] = 1.0, 1.0
            return forced, close, context.previous_text
        own_far = float(near[own_index]) < self.settings.min_similarity
        oos = self.model.index(OUT_OF_SCOPE)
        if (oos is not None and index is not None
                and float(near[oos]) >= self.settings.follow_up_out_of_scope_similarity
                and float(near[oos]) > float(near[index])):
            return None  # an everyday request close to the out-of-scope examples ("call my mum")
        if not (cue or own_far or own_conf < 0.5):
            return None
        joined = f"{context.previous_text} {text}"
        combined = self.encoder.encode([joined])
        c_probs, c_near = self._scores(combined)
        best, best_conf = self.model.labels[int(c_probs[0].argmax())], float(c_probs[0].max())
        # "is there research on that?" points back at the last topic: read together, that topic
        # wins if it is clear, even though "research" alone sounds like a question about sources.
        points_back = bool(set(text_reading.words(text)) & REFERRING_WORDS)
        back_to_topic = points_back and best == context.previous_topic and best_conf >= 0.5
        if best in NOT_TOPICS or (own not in NOT_TOPICS and not own_far and not back_to_topic
                                  and best_conf < own_conf):
            return None
        return c_probs[0], np.maximum(c_near[0], near), joined

    # -- the decision -----------------------------------------------------------------------
    def read(self, text: str, vector: np.ndarray, context: Context | None = None) -> Reading:
        context = context or Context()
        vectors = vector[None, :]
        parts = text_reading.sentences(text)
        sentences = parts if len(parts) > 1 else []
        read_as = "whole"
        if sentences:
            vectors = np.vstack([vectors, self.encoder.encode(sentences)])
        probs_all, near_all = self._scores(vectors)
        crisis_sentence, crisis_clause = self._crisis_signal(parts, vectors)
        probs, near = probs_all[0], near_all.max(axis=0)
        question = text_reading.question_sentence(parts) if len(parts) > 1 else None
        if question is not None:
            probs = (probs + probs_all[1 + parts.index(question)]) / 2
            read_as = "question"
        reading = Reading("", 0.0, [], read_as, crisis_margin=crisis_sentence,
                          crisis_clause_margin=crisis_clause)
        follow = self._follow_up(text, vector, probs, near, context)
        if follow is not None:
            probs, near, joined = follow
            reading.read_as, reading.follow_up_of = "follow_up", context.previous_topic
            reading.context_text = joined
        reading.crisis_level = self._crisis_level(crisis_sentence, crisis_clause, context)
        return self._decide(reading, probs, near)

    def _decide(self, reading: Reading, probs: np.ndarray, near: np.ndarray) -> Reading:
        s = self.settings
        labels = self.model.labels
        order = [int(i) for i in np.argsort(-probs)]
        if reading.crisis_level == "clear":
            confidence = 1.0
            reading.intent, reading.confidence = CRISIS, confidence
            reading.ranking = [(CRISIS, confidence)] + [
                (labels[i], float(probs[i])) for i in order if labels[i] != CRISIS][: s.ranking_length - 1]
            return reading
        order = [i for i in order if labels[i] != CRISIS]
        total = float(sum(probs[i] for i in order)) or 1.0
        ranking = [(labels[i], float(probs[i]) / total) for i in order][: s.ranking_length]
        reading.ranking = ranking
        (top, p1), (second, p2) = ranking[0], ranking[1] if len(ranking) > 1 else ("", 0.0)
        reading.similarity = float(near[labels.index(top)])
        if top == OUT_OF_SCOPE or (top not in FORM_ANSWERS and reading.similarity < s.min_similarity):
            reading.intent, reading.confidence = OUT_OF_SCOPE, max(p1, 1.0 - reading.similarity)
            return reading
        topics = top not in NOT_TOPICS and second not in NOT_TOPICS
        if p1 < s.min_confidence or (topics and p1 - p2 < s.ambiguity_margin):
            reading.intent, reading.confidence = FALLBACK, p1
            if topics and float(near[labels.index(second)]) >= s.min_similarity:
                reading.clarify = [top, second]
            reading.ranking = [(FALLBACK, p1)] + ranking
            return reading
        reading.intent, reading.confidence = top, p1
        return reading
