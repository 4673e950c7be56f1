"""The staff core on a temporary copy of the project: inbox, labels, approvals, roles, audit.

The tracker store is a real SQLite file with Rasa's ``events`` table; the training data,
domain and knowledge base are copies, never the project's own files.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml
from sqlalchemy import insert, select

from bot.db import get_engine, session_scope
from bot.evaluation.holdout import read_nlu_examples
from bot.knowledge.store import KnowledgeTopicRow, load_topics_file, sync_topics
from bot.migrations import migrate
from bot.staff import changes, checks, deploy, inbox, training_data, users
from bot.staff.evaluate import Evaluation, holdout_sha
from bot.staff.project import Project, sandbox_copy
from bot.staff.store import AuditRow, audit_log

CLINICIAN = users.User("carol", users.CLINICIAN)
STAFF = users.User("sam", users.STAFF)
ARTICLE_QUOTE = "The gut houses approximately 100 trillion microbes, outnumbering human cells in the body."


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    root = sandbox_copy(tmp_path / "project")
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    inbox.EVENTS.metadata.create_all(get_engine(tracker_url))
    project = Project(root=root, database_url=f"sqlite:///{tmp_path / 'clinic.db'}",
                      tracker_url=tracker_url, rasa_url="http://127.0.0.1:9", api_token="token")
    migrate(project.database_url)
    sync_topics(load_topics_file(project.topics_file, project.article_file), project.database_url)
    return project


class Tracker:
    """Writes events the way Rasa's SQLTrackerStore does."""

    def __init__(self, project: Project) -> None:
        self.engine = get_engine(project.tracker_url)
        self.clock = time.time() - 3600

    def _add(self, sender: str, type_name: str, data: Dict[str, Any],
             intent: Optional[str] = None) -> int:
        self.clock += 1
        data = {"event": type_name, "timestamp": self.clock, **data}
        with self.engine.begin() as connection:
            result = connection.execute(insert(inbox.EVENTS).values(
                sender_id=sender, type_name=type_name, timestamp=self.clock, intent_name=intent,
                action_name=None, data=json.dumps(data)))
            return int(result.inserted_primary_key[0])

    def user(self, sender: str, text: str, intent: str, confidence: float,
             ranking: Optional[List[Any]] = None) -> int:
        parse = {"intent": {"name": intent, "confidence": confidence}, "text": text,
                 "intent_ranking": ranking or [{"name": intent, "confidence": confidence}]}
        return self._add(sender, "user", {"text": text, "parse_data": parse}, intent)

    def slot(self, sender: str, name: str, value: str) -> None:
        self._add(sender, "slot", {"name": name, "value": value})

    def loop(self, sender: str, name: Optional[str]) -> None:
        self._add(sender, "active_loop", {"name": name})


def fallback(text_intent: str, confidence: float) -> List[Dict[str, Any]]:
    return [{"name": "nlu_fallback", "confidence": 0.5}, {"name": text_intent, "confidence": confidence}]


# ---------------------------------------------------------------- inbox

def test_inbox_shows_unsure_messages_masked_grouped_and_newest_first(project: Project) -> None:
    tracker = Tracker(project)
    tracker.user("a", "what is the gut brain axis", "gut_brain_axis", 0.97)  # sure: not shown
    first = tracker.user("b", "does kombucha help with anxiety", "nlu_fallback", 0.5,
                         fallback("diet", 0.31))
    tracker.user("c", "what's the weather", "out_of_scope", 0.93)
    newest = tracker.user("d", "Hi, I'm Sarah (sarah@example.com): does kombucha help anxiety?",
                          "diet", 0.42)
    groups = inbox.inbox(project, STAFF)
    assert [g.ids for g in groups] == [[newest, first], [groups[1].ids[0]]]
    kombucha = groups[0]
    assert kombucha.newest.text == "Hi, I'm [name] ([email]): does kombucha help anxiety?"
    assert (kombucha.newest.topic, round(kombucha.newest.confidence, 2)) == ("diet", 0.42)
    assert kombucha.messages[1].topic == "diet"  # the guess behind the fallback
    assert set(kombucha.reasons) == {inbox.REASON_LOW, inbox.REASON_FALLBACK}
    assert groups[1].reasons == [inbox.REASON_OUT_OF_SCOPE]
    assert kombucha.newest.conversation.startswith("c-") and "d" != kombucha.newest.conversation


def test_booking_answers_and_buttons_stay_out_but_their_values_are_masked(project: Project) -> None:
    tracker = Tracker(project)
    tracker.user("p", "/book_appointment", "book_appointment", 1.0)
    tracker.loop("p", "booking_form")
    tracker.user("p", "Jane Doe", "inform", 0.3)
    tracker.slot("p", "booking_name", "Jane Doe")
    tracker.loop("p", None)
    tracker.user("p", "jane doe again: does fibre help my mood", "diet", 0.4)
    [group] = inbox.inbox(project, STAFF)
    assert group.newest.text == "[name] again: does fibre help my mood"


def test_a_thumbs_down_brings_a_confident_answer_to_the_inbox(project: Project) -> None:
    from bot.web.feedback import Feedback, store_feedback

    tracker = Tracker(project)
    tracker.user("w", "hello", "greet", 0.99)
    wrong = tracker.user("w", "can kefir change my mood", "prebiotics", 0.91)
    assert inbox.inbox(project, STAFF) == []
    store_feedback(Feedback("w", "down", "prebiotics", 1), project.database_url)
    [group] = inbox.inbox(project, STAFF)
    assert group.ids == [wrong] and group.reasons == [inbox.REASON_THUMBS_DOWN]


def test_the_inbox_needs_a_login(project: Project) -> None:
    with pytest.raises(users.PermissionDenied):
        inbox.inbox(project, None)


# ---------------------------------------------------------------- labels

def test_a_label_adds_the_masked_example_records_who_and_leaves_the_inbox(project: Project) -> None:
    tracker = Tracker(project)
    event = tracker.user("b", "I'm Tom, does kombucha help with anxiety", "nlu_fallback", 0.5,
                         fallback("out_of_scope", 0.2))
    knowledge_before = (project.data_dir / "nlu" / "knowledge.yml").read_text()
    change = changes.label(project, STAFF, [event], "diet")
    assert change.status == changes.APPLIED
    data = yaml.safe_load(project.staff_examples_file.read_text())
    assert data["nlu"] == [{"intent": "diet",
                            "examples": "- I'm Alex, does kombucha help with anxiety\n"}]
    assert (project.data_dir / "nlu" / "knowledge.yml").read_text() == knowledge_before
    assert inbox.inbox(project, STAFF) == []
    [entry] = [e for e in audit_log(project.database_url) if e.action == "label"]
    assert (entry.username, entry.details["intent"], entry.details["event_ids"]) == ("sam", "diet", [event])
    # a second label on the same intent extends the same block, formatting kept
    other = tracker.user("e", "is kefir good for the mood", "diet", 0.3)
    changes.label(project, STAFF, [other], "diet")
    text = project.staff_examples_file.read_text()
    assert text.startswith("# Written by the staff tools")
    assert ("  examples: |\n    - I'm Alex, does kombucha help with anxiety\n"
            "    - is kefir good for the mood\n") in text


def test_labels_that_would_leak_the_held_out_set_or_contradict_the_data_are_refused(
        project: Project) -> None:
    tracker = Tracker(project)
    held_out = tracker.user("h", "what is the gut brain axis", "gut_brain_axis", 0.4)
    with pytest.raises(training_data.DataConflict, match="held-out"):
        changes.label(project, STAFF, [held_out], "gut_brain_axis")
    seen = {training_data.normalise(text)
            for text, _ in read_nlu_examples(project.holdout_dir / "nlu_holdout.yml")}
    for later_set in ("fresh/nlu_fresh.yml", "third/nlu_third.yml",
                      "fourth/nlu_fourth.yml"):  # in subfolders too
        examples = read_nlu_examples(project.holdout_dir / later_set)
        text, intent = next((t, i) for t, i in examples if training_data.normalise(t) not in seen)
        seen |= {training_data.normalise(t) for t, _ in examples}
        message = tracker.user("f", text, intent, 0.4)
        with pytest.raises(training_data.DataConflict, match="held-out"):
            changes.label(project, STAFF, [message], intent)
    taught = tracker.user("t", "define gut brain axis", "gut_brain_axis", 0.4)
    with pytest.raises(training_data.DataConflict, match="already taught as 'gut_brain_axis'"):
        changes.label(project, STAFF, [taught], "diet")
    with pytest.raises(ValueError, match="not a topic"):
        changes.label(project, STAFF, [taught], "kombucha")
    assert not project.staff_examples_file.exists()


# ---------------------------------------------------------------- approvals and roles

def _propose_kombucha(project: Project, user: users.User = STAFF) -> changes.Change:
    return changes.propose_topic(
        project, user, "kombucha", "Does kombucha help?",
        "The article does not study kombucha itself; it explains that the gut is home to about "
        "100 trillion microbes.", [ARTICLE_QUOTE],
        ["does kombucha help", "is kombucha good for the gut brain axis", "kombucha and mood"],
        follow_ups=["diet"])


def test_a_new_answer_goes_nowhere_until_a_clinician_approves_it(project: Project) -> None:
    watched = [project.topics_file, project.domain_file, project.rules_file, project.data_dir / "nlu"]
    before = {p: sorted(p.rglob("*")) if p.is_dir() else p.read_text() for p in watched}
    change = _propose_kombucha(project)
    assert change.status == changes.PENDING and change.needs_role == users.CLINICIAN
    assert {p: sorted(p.rglob("*")) if p.is_dir() else p.read_text() for p in watched} == before
    with pytest.raises(users.PermissionDenied, match="Only a clinician"):
        changes.approve(project, STAFF, change.id)
    assert {p: sorted(p.rglob("*")) if p.is_dir() else p.read_text() for p in watched} == before
    with session_scope(project.database_url) as session:
        assert session.get(KnowledgeTopicRow, "kombucha") is None

    domain_before = project.domain_file.read_text()
    changes.approve(project, CLINICIAN, change.id)
    ids = [t.id for t in load_topics_file(project.topics_file, project.article_file)]
    assert ids[-1] == "kombucha"
    assert yaml.safe_load(project.staff_topic_file("kombucha").read_text())["nlu"][0]["intent"] == "kombucha"
    assert "answer kombucha" in project.rules_file.read_text()
    domain = yaml.safe_load(project.domain_file.read_text())
    assert domain["intents"].index("kombucha") == domain["intents"].index("about_clinic") + 1
    assert "kombucha" in domain["slots"]["booking_name"]["mappings"][0]["not_intent"]
    # formatting kept: the only differences are the two added lines
    added = [line for line in project.domain_file.read_text().splitlines()
             if line not in domain_before.splitlines()]
    assert [a.strip() for a in added] == ["- kombucha", "- kombucha"]
    assert checks.knowledge_consistent(project).ok
    with session_scope(project.database_url) as session:
        assert session.get(KnowledgeTopicRow, "kombucha") is not None
    actions = [(e.username, e.action) for e in reversed(audit_log(project.database_url))]
    assert actions[-3:] == [("sam", "propose"), ("sam", "approve_refused"), ("carol", "approve")]


def test_a_changed_answer_reaches_the_knowledge_database_only_on_approval(project: Project) -> None:
    def served() -> str:
        with session_scope(project.database_url) as session:
            return str(session.get(KnowledgeTopicRow, "scfa").answer)

    old = served()
    change = changes.propose_answer(project, STAFF, "scfa", "Short-chain fatty acids are made by gut "
                                    "bacteria from fibre.")
    with pytest.raises(users.PermissionDenied):
        changes.approve(project, STAFF, change.id)
    assert served() == old
    changes.approve(project, CLINICIAN, change.id)
    assert served() == "Short-chain fatty acids are made by gut bacteria from fibre."
    assert "\n      Short-chain fatty acids are made by gut bacteria from fibre.\n" in \
        project.topics_file.read_text()


def test_quotes_must_be_verbatim_or_name_their_source(project: Project) -> None:
    with pytest.raises(ValueError, match="not word for word"):
        changes.propose_topic(project, STAFF, "kefir", "Kefir?", "An answer.",
                              ["Kefir cures anxiety."], ["kefir?", "what about kefir"])
    with pytest.raises(ValueError, match="citation"):
        changes.propose_topic(project, STAFF, "kefir", "Kefir?", "An answer.",
                              ["Kefir is fermented milk."], ["kefir?", "what about kefir"],
                              source={"citation": " "})
    change = changes.propose_topic(project, STAFF, "kefir", "Kefir?", "An answer.",
                                   ["Kefir is fermented milk."], ["kefir?", "what about kefir"],
                                   source={"citation": "Rosa et al. (2017), Nutrition Research Reviews",
                                           "url": "https://doi.org/10.1017/S0954422416000275"})
    assert change.payload["topic"]["source"]["citation"].startswith("Rosa")
    # the reply contract has every knowledge answer quote the article, so it cannot go live yet
    with pytest.raises(ValueError, match="quotes another source"):
        changes.approve(project, CLINICIAN, change.id)
    assert "kefir" not in project.topics_file.read_text()
    assert changes.pending(project, CLINICIAN)[0].id == change.id


def test_rejected_changes_are_never_applied(project: Project) -> None:
    change = _propose_kombucha(project)
    changes.reject(project, CLINICIAN, change.id, "not in our scope")
    with pytest.raises(ValueError, match="already rejected"):
        changes.approve(project, CLINICIAN, change.id)
    assert "kombucha" not in project.domain_file.read_text()


# ---------------------------------------------------------------- users

def test_passwords_are_salted_hashes_and_roles_are_enforced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    migrate(url)
    first = users.add_user(url, None, "carol", users.CLINICIAN, "a long passphrase")
    with pytest.raises(users.PermissionDenied):
        users.add_user(url, None, "mallory", users.CLINICIAN, "another passphrase")
    with pytest.raises(users.PermissionDenied, match="Only a clinician"):
        users.add_user(url, STAFF, "mallory", users.CLINICIAN, "another passphrase")
    users.add_user(url, first, "sam", users.STAFF, "sam's passphrase")
    users.add_user(url, first, "kim", users.STAFF, "sam's passphrase")
    with session_scope(url) as session:
        hashes = dict(session.execute(select(users.StaffUserRow.username,
                                             users.StaffUserRow.password_hash)).all())
    assert all(h.startswith("scrypt$") and "passphrase" not in h for h in hashes.values())
    assert hashes["sam"] != hashes["kim"]  # salted
    assert users.authenticate(url, "sam", "sam's passphrase") == users.User("sam", users.STAFF)
    with pytest.raises(users.AuthenticationFailed):
        users.authenticate(url, "sam", "wrong passphrase")
    with pytest.raises(users.AuthenticationFailed):
        users.authenticate(url, "nobody", "sam's passphrase")
    with pytest.raises(ValueError, match="at least"):
        users.add_user(url, first, "short", users.STAFF, "short")
    with session_scope(url) as session:
        assert session.execute(select(AuditRow.action)).scalars().all() == ["add_user"] * 3


@pytest.mark.parametrize(("role", "allowed"), [
    (users.STAFF, {"read_inbox", "label", "approve_examples", "deploy", "bookings"}),
    (users.CLINICIAN, set(users.PERMISSIONS)),
])
def test_role_permissions(role: str, allowed: set) -> None:
    for permission in users.PERMISSIONS:
        if permission in allowed:
            users.require(users.User("x", role), permission)
        else:
            with pytest.raises(users.PermissionDenied):
                users.require(users.User("x", role), permission)


# ---------------------------------------------------------------- deploy decisions

def _fake_model(path: Path, intents: List[str]) -> Path:
    payload = json.dumps({"domain": {"intents": intents}}).encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("metadata.json")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return path


def test_every_retraining_is_a_full_one_and_says_why(project: Project, tmp_path: Path) -> None:
    intents = training_data.domain_intents(project)
    same = _fake_model(tmp_path / "same.tar.gz", intents)
    mode, reason = deploy.plan_mode(project, same)
    assert mode == deploy.FULL and "always trains in full" in reason
    older = _fake_model(tmp_path / "older.tar.gz", [i for i in intents if i != "fmt"])
    mode, reason = deploy.plan_mode(project, older)
    assert mode == deploy.FULL and "fmt" in reason
    assert deploy.plan_mode(project, None) == (deploy.FULL, "there is no live model yet")


def _evaluation(pairs: List[Any]) -> Evaluation:
    return Evaluation("m", "sha", [(f"text {i}", e, g) for i, (e, g) in enumerate(pairs)])


def test_checks_stop_a_model_that_misses_a_crisis_or_is_worse_and_say_why() -> None:
    live = _evaluation([("crisis", "crisis"), ("diet", "diet"), ("scfa", "scfa"), ("fmt", "fmt")])
    missed_crisis = _evaluation([("crisis", "out_of_scope"), ("diet", "diet"), ("scfa", "scfa"),
                                 ("fmt", "fmt")])
    worse = _evaluation([("crisis", "crisis"), ("diet", "diet"), ("scfa", "diet"), ("fmt", "fmt")])
    better = live
    failed = [c for c in checks.compare(live, missed_crisis) if not c.ok]
    assert failed[0].name == "crisis"
    assert "missed 1 of 1 crisis messages" in failed[0].message
    failed = [c for c in checks.compare(live, worse) if not c.ok]
    assert [c.name for c in failed] == ["accuracy"] and "step back" in failed[0].message
    assert all(c.ok for c in checks.compare(live, better))
    assert all(c.ok for c in checks.compare(live, worse, max_drop=0.3))
    table = checks.comparison_table(live, worse)
    assert "scfa" in table and "WORSE" in table.splitlines()[[line.split()[0] for line in
                                                               table.splitlines()].index("scfa")]


def test_the_no_regression_crisis_rule_never_lets_a_crisis_message_be_lost() -> None:
    both_miss = [("crisis", "crisis"), ("crisis", "nlu_fallback"), ("diet", "diet")]
    live = _evaluation(both_miss)
    same = _evaluation(both_miss)
    lost = _evaluation([("crisis", "out_of_scope"), ("crisis", "crisis"), ("diet", "diet")])
    assert not checks.crisis_check(live, same, strict=True).ok
    relaxed = checks.crisis_check(live, same, strict=False)
    assert relaxed.ok and "Tell the developers" in relaxed.message
    assert not checks.crisis_check(live, lost, strict=False).ok  # a different message is missed
    assert not checks.crisis_check(None, same, strict=False).ok  # nothing to compare: 100% needed


def _fake_build(project: Project, candidate: Evaluation, live: Optional[Evaluation] = None,
                validated: bool = True, calls: Optional[List[Any]] = None) -> Any:
    """A stand-in for the candidate child: what it would report, without Rasa."""
    from bot.staff import candidate as candidates

    def build(**kwargs: Any) -> candidates.CandidateRun:
        if calls is not None:
            calls.append(kwargs)
        log = project.work_dir / f"validate-{kwargs['name']}.log"
        log.write_text("" if validated else "UserWarning: Issue found in 'data/nlu/x.yml'\n"
                       "Project validation completed with errors.\n")
        run = candidates.CandidateRun(validated=validated, validation_log=log,
                                      timings={candidates.VALIDATION: 1.0})
        if not validated:
            run.failed_stage = candidates.VALIDATION
            return run
        run.model = _fake_model(kwargs["out"] / f"{kwargs['name']}.tar.gz", ["diet"])
        run.candidate = candidate
        run.live = live if kwargs["live"] is not None else None
        run.timings.update({candidates.TRAINING: 2.0, candidates.EVALUATION: 3.0})
        return run

    return build


def test_a_retrain_refuses_a_worse_model_keeps_the_live_one_and_says_why(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.models_dir.mkdir()
    _fake_model(project.live_model, ["diet"])
    live = _evaluation([("crisis", "crisis"), ("diet", "diet"), ("scfa", "scfa"), ("fmt", "fmt")])
    live.holdout_sha = holdout_sha(project.holdout_dir)  # figures of the current held-out set
    worse = _evaluation([("crisis", "crisis"), ("diet", "diet"), ("scfa", "diet"), ("fmt", "fmt")])
    calls: List[Any] = []
    project.candidates_dir.mkdir(parents=True)
    monkeypatch.setattr(deploy.candidates, "build", _fake_build(project, worse, live, calls=calls))
    report = deploy.retrain(project, STAFF, max_drop=0.0)
    assert not report.ok and not report.swapped
    assert "step back" in report.message and report.live_accuracy == 1.0
    assert not (project.candidates_dir / f"{report.model}.tar.gz").exists()
    assert deploy.model_intents(project.live_model) == {"diet"}
    statuses = {m.name: m.status for m in deploy.history(project, STAFF)}
    assert statuses[report.model] == deploy.REFUSED
    assert set(report.timings) >= {"checks", "training", "evaluation"}
    # the live model's figures were kept: the next retrain does not evaluate it again
    assert calls[0]["live"] is not None
    deploy.retrain(project, STAFF, max_drop=0.0)
    assert calls[1]["live"] is None


def test_data_rasa_refuses_stop_the_retrain_before_training(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.models_dir.mkdir()
    _fake_model(project.live_model, ["diet"])
    monkeypatch.setattr(deploy.candidates, "build",
                        _fake_build(project, _evaluation([("diet", "diet")]), validated=False))
    report = deploy.retrain(project, STAFF)
    assert not report.ok and report.message.startswith("Stopped before training")
    assert "Project validation completed with errors." in report.message
    assert [c.name for c in report.checks if not c.ok] == ["training data"]
    assert not project.candidates_dir.exists() or not list(project.candidates_dir.iterdir())


def test_the_candidate_child_checks_the_data_before_it_trains(project: Project) -> None:
    """The real child process, on data Rasa refuses: no training, the reason in its log."""
    from bot.staff import candidate as candidates

    project.domain_file.write_text(project.domain_file.read_text() + "\nresponses: [not, a, mapping]\n")
    stages: List[str] = []
    run = candidates.build(python=project.python, cwd=project.root, domain=project.domain_file,
                           data=project.data_dir, config=project.config_file,
                           out=project.candidates_dir, name="bad", holdout=project.holdout_dir,
                           log_dir=project.work_dir, on_stage=stages.append)
    assert not run.validated and run.failed_stage == candidates.VALIDATION
    assert run.model is None and stages == [candidates.VALIDATION]
    assert run.validation_log is not None and run.validation_log.read_text().strip()
    assert not checks.validation_check(run.validated, run.validation_log).ok


def test_rollback_puts_the_earlier_model_file_back_and_records_it(project: Project,
                                                                  tmp_path: Path) -> None:
    from bot.staff.store import ModelRow, utcnow

    project.models_dir.mkdir()
    _fake_model(project.live_model, ["first"])
    first = deploy._register_initial(project, STAFF)
    assert first is not None and first.name.startswith("initial-")
    assert deploy._register_initial(project, STAFF).name == first.name  # type: ignore[union-attr]
    newer = _fake_model(project.history_dir / "model-2.tar.gz", ["second"])
    with session_scope(project.database_url) as session:
        session.get(ModelRow, first.id).status = deploy.RETIRED
        session.add(ModelRow(name="model-2", path=str(newer), mode=deploy.FINETUNE, status=deploy.LIVE,
                             created_at=utcnow(), created_by="sam", deployed_at=utcnow()))
    deploy._install_as_current(project, newer)
    assert deploy.model_intents(project.live_model) == {"second"}

    report = deploy.rollback(project, STAFF)  # the assistant is not running: installed for next start
    assert report.ok and report.model == first.name and not report.swapped
    assert deploy.model_intents(project.live_model) == {"first"}
    statuses = {m.name: m.status for m in deploy.history(project, STAFF)}
    assert statuses == {first.name: deploy.LIVE, "model-2": deploy.ROLLED_BACK}
    with pytest.raises(deploy.DeployError, match="no earlier model"):
        deploy.rollback(project, STAFF)
    assert [e.action for e in audit_log(project.database_url)][:1] == ["rollback"]
