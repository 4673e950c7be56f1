"""Labels and changes: what staff teach the assistant, and who must approve it.

* ``label``: a message (or several) belongs to an existing topic or is out of scope. The
  message becomes an example question at once: any staff member may approve examples, and
  the labeller is one.
* ``propose_topic`` / ``propose_answer``: a new FAQ topic or a changed answer text. Held as a
  pending change; nothing is written to the data or the knowledge base until a clinician
  approves it (``approve``). Enforced here, for the CLI and the web page alike.
* **Four eyes**: that clinician must be someone other than the person who proposed the
  change. A clinic with a single clinician can allow self-approval with the explicit setting
  ``staff: allow_self_approval: true`` (``STAFF_ALLOW_SELF_APPROVAL=true``); every approval
  page then says so, and each self-approval is written in the audit log as such.

Every step is written to the audit log in the same transaction as the change itself.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence

from sqlalchemy import select

from bot.db import session_scope
from bot.intents import CRISIS, FALLBACK_INTENT, OUT_OF_SCOPE
from bot.knowledge.store import (
    TOPIC_ID_PATTERN,
    load_topics_file,
    normalise_whitespace,
    quote_is_verbatim,
    read_article,
    sync_topics,
)
from bot.staff import masking, training_data
from bot.staff.inbox import intent_of, text_key, topic_of, tracked
from bot.staff.project import Project, staff_flag
from bot.staff.store import ChangeRow, LabelRow, audit, require_schema, utcnow
from bot.staff.users import CLINICIAN, STAFF, PermissionDenied, User, require

logger = logging.getLogger(__name__)

EXAMPLES = "examples"
NEW_TOPIC = "new_topic"
ANSWER = "answer"
PENDING, APPLIED, REJECTED = "pending", "applied", "rejected"
MIN_TOPIC_EXAMPLES = 2
# Intents staff may not teach by label: the crisis net is tuned and tested on its own.
NOT_LABELLABLE = {FALLBACK_INTENT, CRISIS}
SELF_APPROVAL_SETTING = "allow_self_approval"
FOUR_EYES_REFUSAL = (
    "A new or changed answer goes live only when a clinician other than the person who "
    "proposed it approves it. Ask another clinician to approve this change."
)
OTHER_SOURCE_NOT_SERVED = (
    "This topic quotes another source. Today every knowledge answer must cite the clinic's "
    "article word for word (the reply contract), so the assistant cannot serve it yet. Reject "
    "it, or propose it again with a quote from the article."
)


@dataclass(frozen=True)
class Change:
    id: int
    kind: str
    status: str
    needs_role: str
    summary: str
    created_by: str
    created_at: datetime
    payload: Dict[str, Any]
    decided_by: Optional[str] = None
    note: Optional[str] = None


def _change(row: ChangeRow) -> Change:
    return Change(int(row.id), row.kind, row.status, row.needs_role, row.summary, row.created_by,
                  row.created_at, json.loads(row.payload), row.decided_by, row.note)


def _labellable_intents(project: Project) -> List[str]:
    return [i for i in training_data.domain_intents(project) if i not in NOT_LABELLABLE]


def resolve_intent(project: Project, topic: str) -> str:
    """The intent a topic id is trained as; explain the choices if it is unknown."""
    intent = intent_of(topic.strip())
    allowed = _labellable_intents(project)
    if intent not in allowed:
        if intent == CRISIS:
            raise ValueError("Crisis messages are not labelled here: tell the clinic's lead, who "
                             "updates the crisis safety net and its tests.")
        choices = ", ".join(sorted(topic_of(i) for i in allowed))
        raise ValueError(f"{topic!r} is not a topic. Choose one of: {choices}; or add a new topic.")
    return intent


def label(project: Project, user: Optional[User], event_ids: Sequence[int], topic: str,
          text: Optional[str] = None) -> Change:
    """Teach the assistant that these messages mean ``topic`` (or ``out_of_scope``).

    The masked message becomes the example (masks replaced by harmless stand-ins), or
    ``text`` when staff reworded it. Applied at once; retrain to put it live.
    """
    actor = require(user, "label")
    require(actor, "approve_examples")
    if not event_ids:
        raise ValueError("Name at least one message id from the inbox.")
    intent = resolve_intent(project, topic)
    messages = tracked(project, event_ids)
    if text is not None:
        examples = [masking.for_training(masking.mask(text))]
    else:
        examples = [masking.for_training(m.masked) for m in messages]
    check = training_data.check_examples(project, intent, examples)
    summary = f"{len(messages)} message(s) labelled {topic_of(intent)}"
    require_schema(project.database_url)
    with session_scope(project.database_url) as session:
        row = ChangeRow(created_at=utcnow(), created_by=actor.username, kind=EXAMPLES,
                        needs_role=STAFF, status=APPLIED, summary=summary,
                        payload=json.dumps({"intent": intent, "examples": list(check.new),
                                            "already_there": list(check.already_there),
                                            "event_ids": [m.event_id for m in messages]}),
                        decided_by=actor.username, decided_at=utcnow())
        session.add(row)
        session.flush()
        for message in messages:
            session.add(LabelRow(event_id=message.event_id, text_key=text_key(message.masked),
                                 intent=intent, change_id=row.id, username=actor.username,
                                 created_at=utcnow()))
        audit(session, actor.username, "label", f"change {row.id}", intent=intent,
              event_ids=[m.event_id for m in messages], examples=list(check.new))
        if check.new:
            training_data.add_examples(project.staff_examples_file, intent, check.new)
        change = _change(row)
    logger.info("change %s: %s", change.id, summary)
    return change


def _check_quotes(project: Project, quotes: Sequence[str], source: Optional[Dict[str, str]]) -> List[str]:
    quotes = [normalise_whitespace(q) for q in quotes if q and q.strip()]
    if not quotes:
        raise ValueError("Give at least one supporting quote, copied word for word from the source.")
    if source:
        if not str(source.get("citation") or "").strip():
            raise ValueError("A quote from another source needs its citation "
                             "(author, title, year, and a link if there is one).")
        return quotes
    article = read_article(project.article_file)
    for quote in quotes:
        if not quote_is_verbatim(quote, article):
            raise ValueError(f"This quote is not word for word in the article: {quote[:80]!r}. "
                             "Copy it exactly, or name the other source it comes from.")
    return quotes


def propose_topic(project: Project, user: Optional[User], topic_id: str, title: str, answer: str,
                  quotes: Sequence[str], examples: Sequence[str] = (), event_ids: Sequence[int] = (),
                  source: Optional[Dict[str, str]] = None, follow_ups: Sequence[str] = (),
                  section: str = "") -> Change:
    """A new FAQ topic, held until a clinician approves its answer."""
    actor = require(user, "label")
    topic_id = topic_id.strip()
    if not TOPIC_ID_PATTERN.match(topic_id):
        raise ValueError("The topic id must be lower_snake_case: a-z, 0-9 and '_', starting with a letter.")
    if topic_id in training_data.domain_intents(project):
        raise ValueError(f"{topic_id!r} already exists; label messages to it instead.")
    if not title.strip() or not answer.strip():
        raise ValueError("A new topic needs a title (the question) and an answer.")
    checked_quotes = _check_quotes(project, quotes, source)
    known = {t.id for t in load_topics_file(project.topics_file, project.article_file)}
    unknown = [f for f in follow_ups if f not in known]
    if unknown:
        raise ValueError(f"Unknown follow-up topics: {', '.join(unknown)}.")
    texts = [masking.for_training(masking.mask(e)) for e in examples]
    texts += [masking.for_training(m.masked) for m in tracked(project, event_ids)] if event_ids else []
    check = training_data.check_examples(project, topic_id, texts)
    if len(check.new) < MIN_TOPIC_EXAMPLES:
        raise ValueError(f"Give at least {MIN_TOPIC_EXAMPLES} different example questions, "
                         "so the assistant can learn to recognise the topic.")
    with session_scope(project.database_url) as session:
        pending = session.execute(select(ChangeRow).where(
            ChangeRow.kind == NEW_TOPIC, ChangeRow.status == PENDING)).scalars().all()
        if any(json.loads(p.payload)["topic"]["id"] == topic_id for p in pending):
            raise ValueError(f"A topic called {topic_id!r} is already waiting for approval.")
    topic = {"id": topic_id, "title": " ".join(title.split()), "answer": " ".join(answer.split()),
             "quotes": checked_quotes, "follow_ups": list(follow_ups), "section": section,
             "source": dict(source) if source else None}
    return _record_pending(project, actor, NEW_TOPIC, f"new topic {topic_id}: {topic['title']}",
                           {"topic": topic, "examples": list(check.new),
                            "event_ids": list(event_ids)})


def propose_answer(project: Project, user: Optional[User], topic_id: str, answer: str,
                   quotes: Sequence[str] = ()) -> Change:
    """A changed answer text for an existing topic, held until a clinician approves it."""
    actor = require(user, "label")
    topics = {t.id: t for t in load_topics_file(project.topics_file, project.article_file)}
    if topic_id not in topics:
        raise ValueError(f"There is no topic called {topic_id!r}.")
    if not answer.strip():
        raise ValueError("The new answer is empty.")
    checked = _check_quotes(project, quotes, None) if quotes else []
    return _record_pending(project, actor, ANSWER, f"new answer for {topic_id}",
                           {"topic_id": topic_id, "answer": " ".join(answer.split()),
                            "quotes": checked, "old_answer": topics[topic_id].answer})


def _record_pending(project: Project, actor: User, kind: str, summary: str,
                    payload: Dict[str, Any]) -> Change:
    require_schema(project.database_url)
    with session_scope(project.database_url) as session:
        row = ChangeRow(created_at=utcnow(), created_by=actor.username, kind=kind,
                        needs_role=CLINICIAN, status=PENDING, summary=summary[:300],
                        payload=json.dumps(payload))
        session.add(row)
        session.flush()
        audit(session, actor.username, "propose", f"change {row.id}", kind=kind, summary=summary)
        change = _change(row)
    return change


def pending(project: Project, user: Optional[User]) -> List[Change]:
    require(user, "read_inbox")
    require_schema(project.database_url)
    with session_scope(project.database_url) as session:
        rows = session.execute(select(ChangeRow).where(ChangeRow.status == PENDING)
                               .order_by(ChangeRow.id)).scalars().all()
        return [_change(r) for r in rows]


def recent(project: Project, user: Optional[User], limit: int = 30) -> List[Change]:
    require(user, "read_inbox")
    require_schema(project.database_url)
    with session_scope(project.database_url) as session:
        rows = session.execute(select(ChangeRow).order_by(ChangeRow.id.desc()).limit(limit)).scalars()
        return [_change(r) for r in rows]


def _pending_row(session: Any, change_id: int) -> ChangeRow:
    row = session.get(ChangeRow, int(change_id))
    if row is None:
        raise ValueError(f"There is no change number {change_id}.")
    if row.status != PENDING:
        raise ValueError(f"Change {change_id} is already {row.status}.")
    return row


def self_approval_allowed() -> bool:
    """The explicit setting for a one-clinician clinic (off unless set)."""
    return staff_flag(SELF_APPROVAL_SETTING)


def approve(project: Project, user: Optional[User], change_id: int) -> Change:
    """Apply a pending change. An answer text needs a clinician; the KB file and the knowledge
    database are updated now, the intent and examples go live with the next retrain."""
    require_schema(project.database_url)
    with session_scope(project.database_url) as session:
        row = _pending_row(session, change_id)
        permission = "approve_answer" if row.needs_role == CLINICIAN else "approve_examples"
        try:
            actor = require(user, permission)
        except PermissionDenied:
            audit(session, user.username if user else "(anonymous)", "approve_refused",
                  f"change {row.id}", kind=row.kind)
            session.commit()
            raise
        self_approved = row.needs_role == CLINICIAN and actor.username == row.created_by
        if self_approved and not self_approval_allowed():
            audit(session, actor.username, "approve_refused", f"change {row.id}", kind=row.kind,
                  reason="proposed by the same person (four eyes)")
            session.commit()
            raise PermissionDenied(FOUR_EYES_REFUSAL)
        payload = json.loads(row.payload)
        if row.kind == NEW_TOPIC and payload["topic"].get("source"):
            raise ValueError(OTHER_SOURCE_NOT_SERVED)
        if row.kind == NEW_TOPIC:
            training_data.add_topic(project, payload["topic"], payload["examples"])
            if payload.get("event_ids"):
                for message in tracked(project, payload["event_ids"]):
                    session.add(LabelRow(event_id=message.event_id, text_key=text_key(message.masked),
                                         intent=payload["topic"]["id"], change_id=row.id,
                                         username=row.created_by, created_at=utcnow()))
        elif row.kind == ANSWER:
            training_data.set_answer(project, payload["topic_id"], payload["answer"],
                                     payload.get("quotes") or None)
        elif row.kind == EXAMPLES:
            training_data.add_examples(project.staff_examples_file, payload["intent"],
                                       payload["examples"])
        row.status, row.decided_by, row.decided_at = APPLIED, actor.username, utcnow()
        if self_approved:
            audit(session, actor.username, "approve", f"change {row.id}", kind=row.kind,
                  summary=row.summary, self_approval=True,
                  setting=f"staff.{SELF_APPROVAL_SETTING} is on")
        else:
            audit(session, actor.username, "approve", f"change {row.id}", kind=row.kind,
                  summary=row.summary)
        change = _change(row)
    if change.kind in (NEW_TOPIC, ANSWER):
        # the knowledge database the actions read: a changed answer is live from now on; a
        # new topic is answered once a model that knows its intent is deployed
        sync_topics(load_topics_file(project.topics_file, project.article_file), project.database_url)
    return change


def reject(project: Project, user: Optional[User], change_id: int, reason: str = "") -> Change:
    """Drop a pending change; nothing of it is written anywhere."""
    actor = require(user, "label")
    with session_scope(project.database_url) as session:
        row = _pending_row(session, change_id)
        if row.needs_role == CLINICIAN and actor.role != CLINICIAN and actor.username != row.created_by:
            raise PermissionDenied("Only a clinician or the person who proposed it can reject this change.")
        row.status, row.decided_by, row.decided_at, row.note = REJECTED, actor.username, utcnow(), reason
        audit(session, actor.username, "reject", f"change {row.id}", reason=reason)
        return _change(row)


def label_choices(project: Project) -> List[str]:
    """Topic ids staff are offered as labels (knowledge topics, booking, out_of_scope, ...);
    the assistant's internal intents (greet, affirm, inform, ...) are never offered."""
    from bot.staff.topics import cached, label_options

    intents = cached("labellable_intents", [project.domain_file],
                     lambda: _labellable_intents(project))
    allowed = {topic_of(i) for i in intents} | {OUT_OF_SCOPE}
    return [c.id for c in label_options(project) if c.id in allowed]
