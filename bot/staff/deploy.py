"""Retrain, check, and swap the model into the running assistant; roll back in one step.

``retrain``: check the knowledge base, then validate the data, train in full and score the
candidate (and, the first time, the live model) on the held-out set, all in one child
process (``bot.staff.candidate``, which imports Rasa once); run the checks (``checks``); if
they pass, load the new model into the running Rasa server through its HTTP API
(``PUT /model``, protected by ``RASA_API_TOKEN``), which swaps it in without a restart. Every
model that was live is kept in ``models/history/``, with its held-out figures;
``rollback`` loads the previous one again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

import yaml
from sqlalchemy import select

from bot.db import session_scope
from bot.knowledge.store import load_topics_file, sync_topics
from bot.staff import candidate as candidates
from bot.staff import checks
from bot.staff.evaluate import Evaluation, holdout_sha
from bot.staff.project import Project
from bot.staff.store import ChangeRow, ModelRow, audit, require_schema, utcnow
from bot.staff.users import User, require

logger = logging.getLogger(__name__)

# FINETUNE only names models of the earlier DIET pipeline that the history still lists.
FINETUNE, FULL, INITIAL = "finetune", "full", "initial"
LIVE, RETIRED, ROLLED_BACK, REFUSED = "live", "retired", "rolled_back", "refused"
# The sentence-encoder pipeline trains the same model from the same data (seeded regression,
# deterministic encoder), but one added example can move a neighbouring question across a
# boundary: a drop of up to 1% of the held-out questions is allowed. The crisis check is
# separate and stays strict.
DEFAULT_MAX_DROP = 0.01
SWAP_TIMEOUT = 600.0
Progress = Callable[[str], None]


class DeployError(RuntimeError):
    """The deploy stopped; the message says why in plain words."""


@dataclass
class SwapProbeResult:
    """What a client sending without pause saw during a swap."""

    sent: int = 0
    errors: int = 0  # an error status, no reply at all, or no connection
    apologies: int = 0  # a 200 carrying the "something went wrong" apology
    slowest_ms: float = 0.0
    failures: List[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.errors + self.apologies


@dataclass
class DeployReport:
    ok: bool
    model: str
    mode: str
    mode_reason: str
    checks: List[checks.CheckResult] = field(default_factory=list)
    table: str = ""
    live_accuracy: Optional[float] = None
    candidate_accuracy: Optional[float] = None
    timings: Dict[str, float] = field(default_factory=dict)
    label_to_live_seconds: Optional[float] = None
    swapped: bool = False
    probe: Optional[SwapProbeResult] = None
    pending_not_included: List[str] = field(default_factory=list)
    crisis_rule: str = "strict"
    message: str = ""

    def text(self) -> str:
        lines = [f"Model {self.model} ({self.mode}: {self.mode_reason}; crisis rule {self.crisis_rule})"]
        for item in self.checks:
            lines.append(f"  [{'ok' if item.ok else 'FAILED'}] {item.name}: {item.message}")
        if self.table:
            lines += ["", self.table, ""]
        if self.pending_not_included:
            lines.append("Waiting for approval, not included: " + "; ".join(self.pending_not_included))
        if self.probe:
            lines.append(f"Requests during the swap: {self.probe.sent} sent, {self.probe.failed} failed "
                         f"({self.probe.errors} errors or empty replies, {self.probe.apologies} "
                         f"apologies); slowest reply {self.probe.slowest_ms:.0f} ms.")
        timing = ", ".join(f"{k} {v:.0f} s" for k, v in self.timings.items())
        if timing:
            lines.append(f"Time: {timing}.")
        if self.label_to_live_seconds is not None:
            lines.append(f"From the first label to live: {self.label_to_live_seconds:.0f} s.")
        lines.append(self.message)
        return "\n".join(lines)


# --------------------------------------------------------------------- helpers

@contextmanager
def exclusive(project: Project) -> Iterator[None]:
    """One retrain or rollback at a time, whichever face started it."""
    project.work_dir.mkdir(parents=True, exist_ok=True)
    with (project.work_dir / "deploy.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise DeployError(
                "Another retrain or rollback is running; try again when it has finished.") from error
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def model_intents(model: Path) -> Set[str]:
    """The intents a trained model knows (from the archive's metadata)."""
    with tarfile.open(model, "r:gz") as archive:
        for member in archive:
            if member.name.lstrip("./") == "metadata.json":
                handle = archive.extractfile(member)
                if handle is not None:
                    return set(json.load(handle)["domain"].get("intents") or [])
    raise DeployError(f"{model.name} is not a Rasa model (it has no metadata).")


def data_intents(project: Project) -> Set[str]:
    domain = yaml.safe_load(project.domain_file.read_text(encoding="utf-8")) or {}
    return {i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents") or []}


def plan_mode(project: Project, live: Optional[Path], force_full: bool = False) -> Tuple[str, str]:
    """Always a full training: the pipeline has no neural network to fine-tune, and a full
    training takes about a minute (``--finetune`` could not add a topic anyway)."""
    if force_full:
        return FULL, "full training requested"
    if live is None or not live.exists():
        return FULL, "there is no live model yet"
    added = data_intents(project) - model_intents(live)
    if added:
        return FULL, f"new topic(s) {', '.join(sorted(added))}"
    return FULL, "the sentence-encoder pipeline always trains in full (about a minute)"


def _request(project: Project, method: str, path: str, body: Optional[Dict[str, Any]] = None,
             timeout: float = 30.0) -> Tuple[int, bytes]:
    if not project.api_token:
        raise DeployError("No Rasa API token here, so the running assistant cannot be asked to "
                          "load a new model. `make run` writes one to var/rasa-api-token; if the "
                          "assistant was started another way, set RASA_API_TOKEN to its token.")
    query = urllib.parse.urlencode({"token": project.api_token})
    request = urllib.request.Request(  # noqa: S310 (the configured Rasa URL)
        f"{project.rasa_url}{path}?{query}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured URL)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def assistant_running(project: Project) -> bool:
    try:
        with urllib.request.urlopen(f"{project.rasa_url}/", timeout=3) as response:  # noqa: S310
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def live_model_file(project: Project) -> Optional[str]:
    """The model file the running server reports (``GET /status``)."""
    status, body = _request(project, "GET", "/status")
    if status != 200:
        raise DeployError(f"The assistant refused the status request ({status}): its API token is "
                          "not the one in var/rasa-api-token or RASA_API_TOKEN.")
    return json.loads(body).get("model_file")


def swap(project: Project, model: Path) -> float:
    """Load ``model`` into the running server; return the seconds it took."""
    began = time.monotonic()
    status, body = _request(project, "PUT", "/model", {"model_file": str(model.resolve())},
                            timeout=SWAP_TIMEOUT)
    if status not in (200, 204):
        raise DeployError(f"The assistant could not load the new model ({status}): "
                          f"{body[:300].decode(errors='replace')}. The previous model is still live.")
    reported = live_model_file(project) or ""
    if Path(reported).name != model.name:
        raise DeployError(f"The assistant reports {reported!r} after the swap, not {model.name}.")
    return time.monotonic() - began


def _install_as_current(project: Project, model: Path) -> None:
    """models/current.tar.gz becomes a copy of ``model`` (what a restart loads)."""
    temporary = project.models_dir / f".current-{uuid.uuid4().hex}.tar.gz"
    shutil.copyfile(model, temporary)
    os.replace(temporary, project.live_model)


class SwapProbe:
    """Sends questions to the REST channel without pause while a swap runs; counts failures.

    A failure is anything a person would notice: an error status, no reply, or the
    "something went wrong" apology.
    """

    def __init__(self, rest_url: str, workers: int = 3, message: str = "what is the gut brain axis") -> None:
        self.rest_url = rest_url
        self.workers = workers
        self.message = message
        self.result = SwapProbeResult()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []

    def _one(self) -> None:
        body = json.dumps({"sender": f"swap-probe-{uuid.uuid4().hex[:12]}", "message": self.message})
        request = urllib.request.Request(self.rest_url, data=body.encode(),  # noqa: S310
                                         headers={"Content-Type": "application/json"})
        began = time.monotonic()
        problem, apology = None, False
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (loopback)
                reply = json.loads(response.read() or b"[]")
                if response.status != 200 or not reply:
                    problem = f"status {response.status}, {len(reply)} messages"
                elif any((m.get("custom") or {}).get("error") for m in reply if isinstance(m, dict)):
                    problem, apology = "apology instead of an answer", True
        except (urllib.error.URLError, OSError, ValueError) as error:
            problem = f"{type(error).__name__}: {error}"
        elapsed = (time.monotonic() - began) * 1000
        with self._lock:
            self.result.sent += 1
            self.result.slowest_ms = max(self.result.slowest_ms, elapsed)
            if problem:
                self.result.failures.append(problem)
                if apology:
                    self.result.apologies += 1
                else:
                    self.result.errors += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._one()

    def __enter__(self) -> "SwapProbe":
        for _ in range(self.workers):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        time.sleep(1.0)  # traffic is flowing before the swap starts
        return self

    def __exit__(self, *_exc: Any) -> None:
        time.sleep(2.0)  # and keeps flowing after it
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=150)


# --------------------------------------------------------------------- records

def _live_row(session: Any) -> Optional[ModelRow]:
    return session.execute(select(ModelRow).where(ModelRow.status == LIVE)
                           .order_by(ModelRow.id.desc())).scalars().first()


def _same_file(first: Path, second: Path) -> bool:
    if not (first.exists() and second.exists()) or first.stat().st_size != second.stat().st_size:
        return False
    digests = []
    for path in (first, second):
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):  # noqa: B023
                digest.update(chunk)
        digests.append(digest.hexdigest())
    return digests[0] == digests[1]


def _register_initial(project: Project, actor: User) -> Optional[ModelRow]:
    """The live model's record. The first time, or when someone put another model live
    outside the staff tools (``make train`` and a restart), the running model is recorded
    and copied to history, so comparisons and rollbacks start from what really runs."""
    running = None
    if project.api_token and assistant_running(project):
        running = Path(live_model_file(project) or "").name or None
    with session_scope(project.database_url) as session:
        row = _live_row(session)
        if row is not None:
            session.expunge(row)
    if row is not None and (running is None or running == Path(row.path).name or (
            running == project.live_model.name and _same_file(project.live_model, Path(row.path)))):
        return row
    if not project.live_model.exists():
        return row
    stamp = datetime.fromtimestamp(project.live_model.stat().st_mtime, tz=timezone.utc)
    name = f"{'initial' if row is None else 'external'}-{stamp:%Y%m%d-%H%M%S}"
    project.history_dir.mkdir(parents=True, exist_ok=True)
    kept = project.history_dir / f"{name}.tar.gz"
    if not kept.exists():
        shutil.copyfile(project.live_model, kept)
    with session_scope(project.database_url) as session:
        for previous in session.execute(select(ModelRow).where(ModelRow.status == LIVE)).scalars():
            previous.status = RETIRED
        existing = session.execute(select(ModelRow).where(ModelRow.name == name)).scalars().first()
        if existing is not None:
            existing.status = LIVE
            session.flush()
            session.expunge(existing)
            return existing
        new = ModelRow(name=name, path=str(kept), mode=INITIAL, status=LIVE, created_at=stamp,
                       created_by=actor.username, deployed_at=stamp,
                       note="the model the assistant was running, put live outside the staff tools")
        session.add(new)
        audit(session, actor.username, "register_model", name, path=str(kept))
        session.flush()
        session.expunge(new)
    return new


def _stored_evaluation(project: Project, row: ModelRow) -> Optional[Evaluation]:
    """The held-out evaluation kept with a recorded model, if it is of the current set."""
    if row.evaluation:
        stored = Evaluation.from_dict(json.loads(row.evaluation))
        if stored.holdout_sha == holdout_sha(project.holdout_dir):
            return stored
    return None


def _store_evaluation(project: Project, row: ModelRow, evaluation: Evaluation) -> None:
    """Keep a recorded model's held-out evaluation with it: it is computed once."""
    with session_scope(project.database_url) as session:
        stored_row = session.get(ModelRow, row.id)
        stored_row.evaluation = json.dumps(evaluation.as_dict())
        stored_row.accuracy = evaluation.accuracy
        stored_row.crisis_recall = evaluation.crisis_recall


STAGE_NOTES = {
    candidates.TRAINING: "Training ({mode}: {reason})...",
    candidates.EVALUATION: "Comparing the new model with the live one on the held-out test set...",
}


def _build_candidate(project: Project, name: str, live: Optional[ModelRow], live_known: bool,
                     mode: str, reason: str, say: Progress) -> candidates.CandidateRun:
    """Validate, train and evaluate in one child process (``bot.staff.candidate``)."""
    def on_stage(stage: str) -> None:
        if stage in STAGE_NOTES:
            say(STAGE_NOTES[stage].format(mode=mode, reason=reason))

    return candidates.build(
        python=project.python, cwd=project.root, domain=project.domain_file, data=project.data_dir,
        config=project.config_file, out=project.candidates_dir, name=name,
        holdout=project.holdout_dir, log_dir=project.work_dir,
        live=Path(live.path) if live is not None and not live_known else None, on_stage=on_stage)


def _pending_summaries(project: Project) -> List[str]:
    with session_scope(project.database_url) as session:
        return [f"#{r.id} {r.summary}" for r in session.execute(
            select(ChangeRow).where(ChangeRow.status == "pending")).scalars()]


def _first_change_since(project: Project, since: Optional[datetime]) -> Optional[datetime]:
    with session_scope(project.database_url) as session:
        query = select(ChangeRow.created_at).where(ChangeRow.status == "applied")
        if since is not None:
            query = query.where(ChangeRow.decided_at > since)
        times = [t for (t,) in session.execute(query).all()]
    return min(times) if times else None


def _aware(moment: Optional[datetime]) -> Optional[datetime]:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


# --------------------------------------------------------------------- the loop

def retrain(project: Project, user: Optional[User], *, with_tests: bool = False,
            test_paths: Tuple[str, ...] = checks.DEFAULT_TEST_PATHS, force_full: bool = False,
            max_drop: float = DEFAULT_MAX_DROP,
            strict_crisis: bool = True, probe: bool = False,
            progress: Optional[Progress] = None) -> DeployReport:
    """Train a candidate, check it, and put it live if every check passes."""
    actor = require(user, "deploy")
    say = progress or (lambda _text: None)
    require_schema(project.database_url)
    with exclusive(project):
        started = time.monotonic()
        live = _register_initial(project, actor)
        live_path = Path(live.path) if live is not None else None
        name = f"model-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
        mode, reason = plan_mode(project, live_path, force_full)
        report = DeployReport(ok=False, model=name, mode=mode, mode_reason=reason,
                              pending_not_included=_pending_summaries(project),
                              crisis_rule="strict" if strict_crisis else "no-regression")
        log_dir = project.work_dir
        if assistant_running(project) and not project.api_token:
            raise DeployError("The assistant is running but there is no Rasa API token here "
                              "(var/rasa-api-token or RASA_API_TOKEN), so it cannot be asked to "
                              "load a new model. Nothing was trained.")
        say(f"Checking the training data ({name})...")
        began = time.monotonic()
        report.checks.append(checks.knowledge_consistent(project))
        if not report.checks[-1].ok:
            report.checks.append(checks.validate_data(project, log_dir / f"validate-{name}.log"))
            report.timings["checks"] = time.monotonic() - began
            report.message = "Stopped before training: " + _first_failure(report)
            _audit_refusal(project, actor, name, report)
            return report
        report.timings["checks"] = time.monotonic() - began
        live_eval = _stored_evaluation(project, live) if live is not None else None
        run = _build_candidate(project, name, live, live_eval is not None, mode, reason, say)
        for key, stage in (("checks", candidates.VALIDATION), ("training", candidates.TRAINING),
                           ("evaluation", candidates.EVALUATION)):
            if stage in run.timings:
                report.timings[key] = report.timings.get(key, 0.0) + run.timings[stage]
        if run.failed_stage == "child" and run.validation_log is None:
            raise DeployError(f"The retrain stopped before it could check the data. Details in "
                              f"{run.failure_log}.")
        report.checks.append(checks.validation_check(run.validated, run.validation_log or Path()))
        if not all(c.ok for c in report.checks):
            report.message = "Stopped before training: " + _first_failure(report)
            _audit_refusal(project, actor, name, report)
            return report
        if run.model is None:
            raise DeployError("Training failed, so nothing was changed. Details in "
                              f"{run.failure_log or run.training_log}.")
        candidate = run.model
        if with_tests:
            say("Running the tests...")
            report.checks.append(checks.run_tests(project, test_paths))
        if live is not None and live_eval is None:
            if run.live is None:
                raise RuntimeError(f"Could not evaluate {live.name}; details in {run.failure_log}.")
            live_eval = run.live
            _store_evaluation(project, live, live_eval)
        if run.candidate is None:
            raise RuntimeError(f"Could not evaluate {name}; details in {run.failure_log}.")
        candidate_eval = run.candidate
        report.checks += checks.compare(live_eval, candidate_eval, max_drop, strict_crisis)
        report.table = checks.comparison_table(live_eval, candidate_eval)
        report.live_accuracy = live_eval.accuracy if live_eval else None
        report.candidate_accuracy = candidate_eval.accuracy
        failed = [c for c in report.checks if not c.ok]
        if failed:
            _record_model(project, actor, name, candidate, report.mode, REFUSED, candidate_eval,
                          note=failed[0].message, crisis_rule=report.crisis_rule)
            candidate.unlink(missing_ok=True)
            report.message = "Not put live: " + failed[0].message
            _audit_refusal(project, actor, name, report)
            return report
        kept = project.history_dir / candidate.name
        project.history_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(str(candidate), kept)
        # the knowledge database first: a new topic's answer must be there when its intent is
        sync_topics(load_topics_file(project.topics_file, project.article_file), project.database_url)
        say("Loading the new model into the running assistant...")
        report.swapped, report.probe, swap_seconds, live_at = _swap_or_install(project, kept, probe)
        report.timings["swap"] = swap_seconds
        _record_model(project, actor, name, kept, report.mode, LIVE, candidate_eval,
                      previous=live.name if live else None, crisis_rule=report.crisis_rule)
        report.timings["total"] = time.monotonic() - started
        first = _first_change_since(project, _aware(live.deployed_at) if live else None)
        if first is not None:
            report.label_to_live_seconds = (live_at - _aware(first)).total_seconds()  # type: ignore[operator]
        report.ok = True
        report.message = ("The new model is live." if report.swapped else
                          "The assistant is not running; it will use the new model when started.")
        return report


def _first_failure(report: DeployReport) -> str:
    return next(c.message for c in report.checks if not c.ok)


def _audit_refusal(project: Project, actor: User, name: str, report: DeployReport) -> None:
    with session_scope(project.database_url) as session:
        audit(session, actor.username, "deploy_refused", name, reason=report.message)


def _swap_or_install(project: Project, model: Path,
                     probe: bool) -> Tuple[bool, Optional[SwapProbeResult], float, datetime]:
    """Swapped or not, what the probe saw, the swap's seconds and the moment the model was
    live (the probe keeps watching two more seconds after it)."""
    if not assistant_running(project):
        _install_as_current(project, model)
        return False, None, 0.0, datetime.now(timezone.utc)
    rest_url = f"{project.rasa_url}/webhooks/rest/webhook"
    if probe:
        with SwapProbe(rest_url) as running:
            seconds = swap(project, model)
            live_at = datetime.now(timezone.utc)
        result: Optional[SwapProbeResult] = running.result
    else:
        seconds, result = swap(project, model), None
        live_at = datetime.now(timezone.utc)
    _install_as_current(project, model)
    return True, result, seconds, live_at


def _record_model(project: Project, actor: User, name: str, path: Path, mode: str, status: str,
                  evaluation: Evaluation, note: str = "", previous: Optional[str] = None,
                  crisis_rule: str = "strict") -> None:
    with session_scope(project.database_url) as session:
        if status == LIVE:
            for row in session.execute(select(ModelRow).where(ModelRow.status == LIVE)).scalars():
                row.status = RETIRED
        session.add(ModelRow(name=name, path=str(path), mode=mode, status=status, created_at=utcnow(),
                             created_by=actor.username, deployed_at=utcnow() if status == LIVE else None,
                             accuracy=evaluation.accuracy, crisis_recall=evaluation.crisis_recall,
                             evaluation=json.dumps(evaluation.as_dict()), note=note[:2000]))
        audit(session, actor.username, "deploy" if status == LIVE else "deploy_refused", name,
              mode=mode, accuracy=round(evaluation.accuracy, 4), replaced=previous, note=note[:300],
              crisis_rule=crisis_rule, crisis=f"{evaluation.crisis[0]}/{evaluation.crisis[1]}")


def rollback(project: Project, user: Optional[User], to: Optional[str] = None,
             probe: bool = False) -> DeployReport:
    """Put the previous live model (or the one named ``to``) back; no training."""
    actor = require(user, "deploy")
    require_schema(project.database_url)
    with exclusive(project):
        with session_scope(project.database_url) as session:
            live = _live_row(session)
            query = select(ModelRow).where(ModelRow.status.in_([RETIRED, ROLLED_BACK]))
            query = query.where(ModelRow.name == to) if to else query.where(ModelRow.status == RETIRED)
            target = session.execute(query.order_by(ModelRow.id.desc())).scalars().first()
            if target is None:
                raise DeployError(f"There is no earlier model called {to!r}." if to else
                                  "There is no earlier model to go back to.")
            target_name, target_path = target.name, Path(target.path)
            live_name = live.name if live else None
        if not target_path.exists():
            raise DeployError(f"The file of {target_name} is missing ({target_path}); cannot roll back.")
        report = DeployReport(ok=False, model=target_name, mode="rollback",
                              mode_reason=f"back from {live_name or 'nothing'}")
        swapped, report.probe, seconds, _live_at = _swap_or_install(project, target_path, probe)
        report.swapped, report.timings["swap"] = swapped, seconds
        with session_scope(project.database_url) as session:
            for row in session.execute(select(ModelRow).where(ModelRow.status == LIVE)).scalars():
                row.status = ROLLED_BACK
            row = session.execute(select(ModelRow).where(ModelRow.name == target_name)).scalars().one()
            row.status, row.deployed_at = LIVE, utcnow()
            audit(session, actor.username, "rollback", target_name, replaced=live_name)
        report.ok = True
        report.message = f"{target_name} is live again (was {live_name})."
        return report


@dataclass(frozen=True)
class ModelInfo:
    name: str
    mode: str
    status: str
    created_at: datetime
    created_by: str
    accuracy: Optional[float]
    crisis_recall: Optional[float]
    note: str
    deployed_at: Optional[datetime] = None


def history(project: Project, user: Optional[User]) -> List[ModelInfo]:
    require(user, "read_inbox")
    require_schema(project.database_url)
    with session_scope(project.database_url) as session:
        rows = session.execute(select(ModelRow).order_by(ModelRow.id.desc())).scalars().all()
        return [ModelInfo(r.name, r.mode, r.status, r.created_at, r.created_by, r.accuracy,
                          r.crisis_recall, r.note or "", r.deployed_at) for r in rows]
