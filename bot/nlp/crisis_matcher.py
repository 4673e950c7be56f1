"""The ``crisis_matcher`` spaCy component: a rule-based crisis safety net.

It matches the crisis phrases of ``crisis_patterns.yml`` (or the file named by the
``patterns_path`` setting) on lemmas or lower-cased text and sets three ``Doc`` attributes:

* ``doc._.crisis`` (bool): a crisis phrase matched that no idiom cancels;
* ``doc._.crisis_reason`` (str | None): its kind (suicide, self_harm, harm_others, overdose,
  emergency), the first listed in the data file when several match;
* ``doc._.crisis_idiom`` (bool): a non-crisis idiom ("this IBS is killing me") matched.

An idiom cancels only the crisis matches it overlaps, so "this IBS is killing me and I want to
kill myself" is still a crisis. Matching runs on a shadow copy of the doc whose words are
lower-cased, apostrophe-straightened and accent-free and whose lemmas come from the English
lookup table of spacy-lookups-data (the one the pipeline's lookup lemmatizer uses), so
"KILLING", "Killing" and "killing" all give "kill" and "à" matches "a". The shadow copy has one
token per token of the doc, so match positions are the doc's own.

Importing this module registers the factory. A saved pipeline that contains the component
loads only after that registration: ``import bot.nlp.crisis_matcher`` must run before
``spacy.load(path)`` (``bot.nlp.pipeline.load_pipeline`` does both). Rasa's SpacyNLP calls
``spacy.load`` itself, which is why ``bot.rasa_components.crisis_guard`` imports this module.
"""

import logging
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from spacy.language import Language
from spacy.lookups import Table, load_lookups
from spacy.matcher import Matcher
from spacy.tokens import Doc

logger = logging.getLogger(__name__)

FACTORY_NAME = "crisis_matcher"
DEFAULT_PATTERNS_PATH = Path(__file__).with_name("crisis_patterns.yml")
IDIOM_LABEL = "NOT_CRISIS"
CRISIS_LABEL_PREFIX = "CRISIS_"
LEMMA = "LEMMA"
LOWER = "LOWER"
EXTENSIONS: dict[str, Any] = {"crisis": False, "crisis_reason": None, "crisis_idiom": False}

_ENTRY_ATTRS = {"lemma": LEMMA, "lower": LOWER}
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'"})


class PatternFileError(ValueError):
    """A pattern data file does not follow its documented shape."""


def fold(text: str) -> str:
    """Lower-case text, straighten apostrophes and strip accents."""
    lowered = text.lower()
    decomposed = unicodedata.normalize("NFKD", lowered.translate(_APOSTROPHES))
    folded = "".join(char for char in decomposed if not unicodedata.combining(char))
    return folded or lowered


def register_extensions() -> None:
    """Register the ``Doc`` attributes the component sets (idempotent)."""
    for name, default in EXTENSIONS.items():
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=default)


@dataclass(frozen=True)
class Slot:
    """One token position of a phrase: any of ``options`` (any token if empty)."""

    options: tuple[str, ...]
    optional: bool = False


@dataclass(frozen=True)
class Phrase:
    """A parsed phrase pattern, matched on ``attr`` (LEMMA or LOWER)."""

    source: str
    attr: str
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class CrisisPatterns:
    """The parsed contents of a crisis patterns file."""

    crisis: dict[str, tuple[Phrase, ...]]
    not_crisis: tuple[Phrase, ...]
    lemma_overrides: dict[str, str]


@dataclass(frozen=True)
class CrisisResult:
    """What the matcher found in one doc."""

    crisis: bool
    reason: str | None
    idiom: bool
    matches: tuple[tuple[str, int, int], ...] = ()


def parse_phrase(entry: Any, tokenize: Callable[[str], list[str]]) -> Phrase:
    """Parse one pattern entry: a string (lemmas) or ``{lemma|lower: phrase}``.

    Raises:
        PatternFileError: the entry does not follow the syntax described in crisis_patterns.yml.
    """
    attr = LEMMA
    if isinstance(entry, dict):
        if len(entry) != 1 or next(iter(entry)) not in _ENTRY_ATTRS:
            raise PatternFileError(f"pattern entry must be a string or {{lemma|lower: ...}}: {entry!r}")
        key, entry = next(iter(entry.items()))
        attr = _ENTRY_ATTRS[key]
    if isinstance(entry, int) and not isinstance(entry, bool):
        entry = str(entry)
    if not isinstance(entry, str) or not entry.strip():
        raise PatternFileError(f"pattern must be a non-empty string: {entry!r}")
    slots: list[Slot] = []
    for piece in entry.split():
        slots.extend(_parse_piece(piece, entry, tokenize))
    if all(slot.optional or not slot.options for slot in slots):
        raise PatternFileError(f"pattern needs at least one required word: {entry!r}")
    return Phrase(source=entry, attr=attr, slots=tuple(slots))


def _parse_piece(piece: str, phrase: str, tokenize: Callable[[str], list[str]]) -> list[Slot]:
    optional = len(piece) > 1 and piece.endswith("?")
    core = piece[:-1] if optional else piece
    if core == "_":
        return [Slot(options=(), optional=optional)]
    if "|" in core:
        options = core.split("|")
        for option in options:
            if len(tokenize(option)) != 1:
                raise PatternFileError(f"alternative {option!r} is not one token in {phrase!r}")
        return [Slot(options=tuple(options), optional=optional)]
    words = tokenize(core)
    if optional and len(words) != 1:
        raise PatternFileError(f"optional word {core!r} is not one token in {phrase!r}")
    return [Slot(options=(word,), optional=optional) for word in words]


def load_patterns(path: Path, tokenize: Callable[[str], list[str]]) -> CrisisPatterns:
    """Read and parse a crisis patterns YAML file.

    Raises:
        PatternFileError: the file is not shaped as described in crisis_patterns.yml.
    """
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not isinstance(data.get("crisis"), dict):
        raise PatternFileError(f"{path}: expected a mapping with a 'crisis' mapping")
    crisis: dict[str, tuple[Phrase, ...]] = {}
    for kind, entries in data["crisis"].items():
        if not isinstance(kind, str) or not isinstance(entries, list) or not entries:
            raise PatternFileError(f"{path}: crisis kind {kind!r} needs a non-empty list of phrases")
        crisis[kind] = tuple(parse_phrase(entry, tokenize) for entry in entries)
    idioms = data.get("not_crisis") or []
    if not isinstance(idioms, list):
        raise PatternFileError(f"{path}: 'not_crisis' must be a list")
    overrides = data.get("lemma_overrides") or {}
    if not isinstance(overrides, dict):
        raise PatternFileError(f"{path}: 'lemma_overrides' must be a mapping")
    return CrisisPatterns(
        crisis=crisis,
        not_crisis=tuple(parse_phrase(entry, tokenize) for entry in idioms),
        lemma_overrides={fold(str(k)): fold(str(v)) for k, v in overrides.items()},
    )


def _load_lemma_table(lang: str) -> Table | None:
    try:
        return load_lookups(lang, ["lemma_lookup"]).get_table("lemma_lookup")
    except (ValueError, KeyError):
        logger.warning("no lemma_lookup table for %r: crisis phrases match on words only", lang)
        return None


class CrisisMatcher:
    """Flag crisis phrases in a doc, unless a non-crisis idiom covers them."""

    def __init__(
        self, nlp: Language, name: str = FACTORY_NAME, patterns_path: str | Path | None = None
    ) -> None:
        """Load the patterns (default: the packaged file) and compile the matcher."""
        register_extensions()
        self.name = name
        self.patterns_path = Path(patterns_path) if patterns_path else DEFAULT_PATTERNS_PATH
        tokenizer = nlp.tokenizer

        def tokenize(text: str) -> list[str]:
            return [token.text for token in tokenizer(text)]

        self.patterns = load_patterns(self.patterns_path, tokenize)
        self._vocab = nlp.vocab
        self._table = _load_lemma_table(nlp.lang or "en")
        self._priority = {kind: rank for rank, kind in enumerate(self.patterns.crisis)}
        self._labels: dict[int, str] = {}
        self._matcher = Matcher(self._vocab, validate=True)
        for kind, phrases in self.patterns.crisis.items():
            self._add(CRISIS_LABEL_PREFIX + kind, phrases)
        if self.patterns.not_crisis:
            self._add(IDIOM_LABEL, self.patterns.not_crisis)
        logger.debug(
            "crisis matcher: %d kinds, %d idioms from %s",
            len(self.patterns.crisis),
            len(self.patterns.not_crisis),
            self.patterns_path,
        )

    def lemma(self, word: str) -> str:
        """The folded lemma of a word: the file's override, else the lookup table's."""
        norm = fold(word)
        if norm in self.patterns.lemma_overrides:
            return self.patterns.lemma_overrides[norm]
        value: Any = self._table.get(norm, norm) if self._table is not None else norm
        if isinstance(value, list):
            value = value[0] if value else norm
        return fold(str(value))

    def analyse(self, doc: Doc) -> CrisisResult:
        """Match the doc; return the crisis matches no idiom overlaps."""
        if len(doc) == 0:
            return CrisisResult(crisis=False, reason=None, idiom=False)
        idioms: list[tuple[int, int]] = []
        found: list[tuple[str, int, int]] = []
        for match_id, start, end in self._matcher(self._shadow(doc)):
            label = self._labels[match_id]
            if label == IDIOM_LABEL:
                idioms.append((start, end))
            else:
                found.append((label[len(CRISIS_LABEL_PREFIX) :], start, end))
        kept = [m for m in found if not any(s < m[2] and m[1] < e for s, e in idioms)]
        kept.sort(key=lambda m: (self._priority[m[0]], m[1], m[2]))
        return CrisisResult(
            crisis=bool(kept),
            reason=kept[0][0] if kept else None,
            idiom=bool(idioms),
            matches=tuple(kept),
        )

    def __call__(self, doc: Doc) -> Doc:
        """Set ``doc._.crisis``, ``doc._.crisis_reason`` and ``doc._.crisis_idiom``."""
        result = self.analyse(doc)
        doc._.crisis = result.crisis
        doc._.crisis_reason = result.reason
        doc._.crisis_idiom = result.idiom
        if result.crisis or result.idiom:
            logger.debug("crisis=%s reason=%s idiom=%s", result.crisis, result.reason, result.idiom)
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterable[Doc]:
        """Process a stream of docs."""
        for doc in docs:
            yield self(doc)

    def _add(self, label: str, phrases: Iterable[Phrase]) -> None:
        self._labels[self._vocab.strings.add(label)] = label
        self._matcher.add(label, [self._token_pattern(phrase) for phrase in phrases])

    def _token_pattern(self, phrase: Phrase) -> list[dict[str, Any]]:
        pattern: list[dict[str, Any]] = []
        for slot in phrase.slots:
            spec: dict[str, Any] = {}
            if slot.options:
                norm = self.lemma if phrase.attr == LEMMA else fold
                values = sorted({norm(option) for option in slot.options})
                spec[phrase.attr] = values[0] if len(values) == 1 else {"IN": values}
            if slot.optional:
                spec["OP"] = "?"
            pattern.append(spec)
        return pattern

    def _shadow(self, doc: Doc) -> Doc:
        words = [fold(token.text) for token in doc]
        shadow = Doc(self._vocab, words=words, spaces=[bool(t.whitespace_) for t in doc])
        for token in shadow:
            token.lemma_ = self.lemma(token.text)
        return shadow


@Language.factory(
    FACTORY_NAME,
    default_config={"patterns_path": None},
    assigns=[f"doc._.{name}" for name in EXTENSIONS],
)
def make_crisis_matcher(nlp: Language, name: str, patterns_path: str | None) -> CrisisMatcher:
    """Build the component; ``patterns_path`` defaults to the packaged crisis_patterns.yml."""
    return CrisisMatcher(nlp, name=name, patterns_path=patterns_path)
