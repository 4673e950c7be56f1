"""Edit the training data and the knowledge base files with their formatting kept.

Example questions go to ``data/nlu/staff_examples.yml`` (existing intents) or
``data/nlu/staff_<topic>.yml`` (a new topic); the hand-written data files are never
touched. A new topic also adds its intent to ``domain.yml`` (and to the booking form's
"not an answer" list), its entry to ``bot/knowledge/topics.yml`` and its rules to the
generated ``data/rules_knowledge.yml``. Files are edited with ruamel.yaml round-trips, so
comments, quotes, folded answers and anchors stay as people wrote them; every change is
checked afterwards and all files are restored if the result does not load.
"""

from __future__ import annotations

import io
import logging
import os
import re
import tempfile
import textwrap
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, FoldedScalarString, LiteralScalarString

from bot.knowledge.rules import render_rules
from bot.knowledge.store import load_topics_file
from bot.staff.grouping import normalise
from bot.staff.project import Project

logger = logging.getLogger(__name__)

STAFF_HEADER = (
    "# Written by the staff tools (`python -m bot staff label`, the staff page); the audit log\n"
    "# (`python -m bot staff audit`) says who added what and when. Edit with care.\n"
)
ANNOTATION = re.compile(r"\[([^\]]*)\]\s*[({]")
ANSWER_WIDTH = 92


class DataConflict(ValueError):
    """The change would contradict the training data or leak the held-out set."""


def _yaml(sequence: int = 4, offset: int = 2) -> YAML:
    handler = YAML()
    handler.preserve_quotes = True  # type: ignore[assignment]
    handler.width = 4096  # type: ignore[assignment]
    handler.indent(mapping=2, sequence=sequence, offset=offset)
    return handler


def _dump(handler: YAML, data: Any) -> str:
    out = io.StringIO()
    handler.dump(data, out)
    return out.getvalue()


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, path)


@contextmanager
def restoring(paths: Sequence[Path]) -> Iterator[None]:
    """Put every file back as it was (or remove it) if the block fails."""
    saved = {p: p.read_text(encoding="utf-8") if p.exists() else None for p in paths}
    try:
        yield
    except BaseException:
        for path, text in saved.items():
            if text is None:
                path.unlink(missing_ok=True)
            else:
                write_atomic(path, text)
        raise


def clean_example(text: str) -> str:
    """One line, no Rasa entity annotation syntax."""
    text = " ".join(str(text).split())
    return ANNOTATION.sub(lambda m: m.group(1) + " (", text).replace("[", "(").replace("]", ")")


def _example_lines(block: str) -> List[str]:
    lines = []
    for line in str(block or "").splitlines():
        line = line.strip()
        if line.startswith("- "):
            lines.append(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line[2:].strip()))
    return lines


def nlu_examples(project: Project) -> Dict[str, Tuple[str, Path]]:
    """Every training example (normalised) → (intent, file)."""
    found: Dict[str, Tuple[str, Path]] = {}
    for path in sorted(project.data_dir.rglob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or [] if isinstance(data, dict) else []:
            if isinstance(block, dict) and block.get("intent"):
                for example in _example_lines(str(block.get("examples") or "")):
                    found.setdefault(normalise(example), (str(block["intent"]), path))
    return found


def holdout_texts(project: Project) -> Dict[str, str]:
    found: Dict[str, str] = {}
    for path in sorted(project.holdout_dir.rglob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            for example in _example_lines(block.get("examples")):
                found[normalise(example)] = str(block.get("intent"))
        for item in data.get("not_crisis") or []:
            found[normalise(str(item.get("text")))] = str(item.get("intent"))
    return found


def domain_intents(project: Project) -> List[str]:
    data = yaml.safe_load(project.domain_file.read_text(encoding="utf-8")) or {}
    return [str(i if isinstance(i, str) else next(iter(i))) for i in data.get("intents") or []]


@dataclass(frozen=True)
class ExampleCheck:
    new: Tuple[str, ...]
    already_there: Tuple[str, ...]


def check_examples(project: Project, intent: str, examples: Sequence[str]) -> ExampleCheck:
    """Refuse examples from the held-out set or already taught as another intent."""
    existing = nlu_examples(project)
    held_out = holdout_texts(project)
    new: List[str] = []
    there: List[str] = []
    seen = set()
    for example in examples:
        example = clean_example(example)
        key = normalise(example)
        if not key or key in seen:
            continue
        seen.add(key)
        if key in held_out:
            raise DataConflict(
                f"{example!r} is in the held-out test set, which training must never see "
                "(it is how we check the assistant honestly). Label a reworded version instead."
            )
        if key in existing:
            other, path = existing[key]
            if other != intent:
                raise DataConflict(
                    f"{example!r} is already taught as {other!r} in {path.name}; one question "
                    "cannot teach two topics. Ask a colleague to check which one is right."
                )
            there.append(example)
            continue
        new.append(example)
    return ExampleCheck(tuple(new), tuple(there))


def _examples_block(examples: Sequence[str]) -> LiteralScalarString:
    return LiteralScalarString("".join(f"- {e}\n" for e in examples))


def add_examples(path: Path, intent: str, examples: Sequence[str]) -> None:
    """Append examples to ``intent``'s block in a staff NLU file (created if missing)."""
    handler = _yaml(sequence=2, offset=0)
    if path.exists():
        data = handler.load(path.read_text(encoding="utf-8"))
    else:
        data = handler.load(STAFF_HEADER + 'version: "3.1"\n\nnlu: []\n')
        data["nlu"] = CommentedSeq()
    blocks = data.setdefault("nlu", CommentedSeq())
    for block in blocks:
        if block.get("intent") == intent:
            block["examples"] = LiteralScalarString(
                str(block.get("examples") or "") + "".join(f"- {e}\n" for e in examples))
            break
    else:
        block = CommentedMap()
        block["intent"] = intent
        block["examples"] = _examples_block(examples)
        blocks.append(block)
    write_atomic(path, _dump(handler, data))


def _folded(text: str) -> FoldedScalarString:
    text = " ".join(text.split())
    folded = FoldedScalarString(text)
    positions, offset = [], 0
    for line in textwrap.wrap(text, ANSWER_WIDTH)[:-1]:
        offset += len(line)
        positions.append(offset)
        offset += 1
    folded.fold_pos = positions  # type: ignore[attr-defined]
    return folded


def _blank_line_between_topics(text: str) -> str:
    return re.sub(r"(?<=\S)\n(  - id: )", r"\n\n\1", text)


def topic_entry(topic: Dict[str, Any]) -> CommentedMap:
    entry = CommentedMap()
    entry["id"] = topic["id"]
    entry["title"] = DoubleQuotedScalarString(topic["title"])
    if topic.get("section"):
        entry["section"] = DoubleQuotedScalarString(topic["section"])
    entry["answer"] = _folded(topic["answer"])
    if topic.get("source"):
        source = CommentedMap()
        source["citation"] = DoubleQuotedScalarString(topic["source"]["citation"])
        if topic["source"].get("url"):
            source["url"] = DoubleQuotedScalarString(topic["source"]["url"])
        entry["source"] = source
    entry["quotes"] = CommentedSeq(DoubleQuotedScalarString(q) for q in topic["quotes"])
    follow_ups = CommentedSeq(topic.get("follow_ups") or [])
    follow_ups.fa.set_flow_style()
    entry["follow_ups"] = follow_ups
    return entry


def _check_topics(project: Project) -> List[str]:
    return [t.id for t in load_topics_file(project.topics_file, project.article_file)]


def _add_intent_to_domain(project: Project, topic_id: str, knowledge_ids: Sequence[str]) -> None:
    handler = _yaml()
    domain = handler.load(project.domain_file.read_text(encoding="utf-8"))
    intents = domain["intents"]
    names = [i if isinstance(i, str) else next(iter(i)) for i in intents]
    if topic_id not in names:
        last_known = max((names.index(k) for k in knowledge_ids if k in names), default=len(names) - 1)
        intents.insert(last_known + 1, topic_id)
    # The booking form must not take a knowledge question as a slot answer: extend every
    # "not an answer" list that holds the knowledge intents (an anchored list counts once).
    seen = set()
    for slot in (domain.get("slots") or {}).values():
        for mapping in (slot or {}).get("mappings") or []:
            not_intent = mapping.get("not_intent") if isinstance(mapping, dict) else None
            if (isinstance(not_intent, list) and id(not_intent) not in seen
                    and any(k in not_intent for k in knowledge_ids) and topic_id not in not_intent):
                seen.add(id(not_intent))
                not_intent.append(topic_id)
    write_atomic(project.domain_file, _dump(handler, domain))


def add_topic(project: Project, topic: Dict[str, Any], examples: Sequence[str]) -> List[Path]:
    """Add an approved topic everywhere it must be; return the files written."""
    topic_id = topic["id"]
    nlu_file = project.staff_topic_file(topic_id)
    paths = [project.topics_file, nlu_file, project.domain_file, project.rules_file]
    with restoring(paths):
        knowledge_ids = _check_topics(project)
        if topic_id in knowledge_ids:
            raise DataConflict(f"There is already a topic called {topic_id!r}.")
        handler = _yaml()
        data = handler.load(project.topics_file.read_text(encoding="utf-8"))
        data["topics"].append(topic_entry(topic))
        write_atomic(project.topics_file, _blank_line_between_topics(_dump(handler, data)))
        ids = _check_topics(project)  # quotes verbatim, follow-ups known
        add_examples(nlu_file, topic_id, examples)
        _add_intent_to_domain(project, topic_id, knowledge_ids)
        write_atomic(project.rules_file, render_rules(ids, project.domain_file))
    return paths


def set_answer(project: Project, topic_id: str, answer: str,
               quotes: Optional[Sequence[str]] = None) -> Path:
    """Replace a topic's answer (and, if given, its quotes) in topics.yml."""
    with restoring([project.topics_file]):
        handler = _yaml()
        data = handler.load(project.topics_file.read_text(encoding="utf-8"))
        entry = next((t for t in data["topics"] if t.get("id") == topic_id), None)
        if entry is None:
            raise DataConflict(f"There is no topic called {topic_id!r}.")
        entry["answer"] = _folded(answer)
        if quotes:
            entry["quotes"] = CommentedSeq(DoubleQuotedScalarString(q) for q in quotes)
        write_atomic(project.topics_file, _dump(handler, data))
        _check_topics(project)
    return project.topics_file
