"""The staff loop end to end, on the real stores and real servers, on a COPY of the project.

A person chats over REST → the message shows up in the staff inbox, masked → staff label
it on the staff web page → retrain (a full training, about a minute) → the checks pass → the model
is swapped into the running Rasa server through its HTTP API while a client keeps sending →
the same message now gets the right topic → rollback restores the previous behaviour. On the
way: a new answer proposed by a staff member stays out of everything until a clinician
approves it, and the staff page refuses requests without a login or a valid CSRF token.

Training data, domain, knowledge base and models live in a temporary copy; the project's own
files are never written. The base model is cached under var/staff-e2e/ by a hash of its
inputs, so a re-run only pays for the retraining.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import requests

from bot.deploy import serve
from bot.knowledge.store import KnowledgeTopicRow, load_topics_file, sync_topics
from bot.migrations import migrate
from bot.db import session_scope
from bot.settings import PROJECT_ROOT
from bot.staff import changes, checks, deploy, inbox, users
from bot.staff.project import Project, sandbox_copy
from bot.web.feedback import Feedback, store_feedback
from tests.e2e.conftest import Assistant

CACHE = PROJECT_ROOT / "var" / "staff-e2e"
QUESTION = "does kombucha help with anxiety"
RIGHT_TOPIC = "diet"
PERSONAL = "Hi, I'm Sarah Connor (sarah.connor@example.com, 403-555-0199). Can kombucha calm my nerves?"
NEW_TOPIC_QUESTION = "are fermented foods like kimchi good for my mood"
ARTICLE_QUOTE = "The gut houses approximately 100 trillion microbes, outnumbering human cells in the body."
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORDS = {"carol": "carol's long passphrase", "sam": "sam's long passphrase"}
FIGURES = PROJECT_ROOT / "var" / "staff-e2e" / "figures.json"

pytestmark = pytest.mark.skipif(
    not (PROJECT_ROOT / "var" / "spacy" / "clinic_en" / "meta.json").exists(),
    reason="the spaCy pipeline is not built (make spacy)",
)


def _env() -> Dict[str, str]:
    return dict(os.environ, RASA_TELEMETRY_ENABLED="false", SQLALCHEMY_SILENCE_UBER_WARNING="1",
                PYTHONPATH=str(PROJECT_ROOT))


def inputs_hash(root: Path) -> str:
    digest = hashlib.sha256()
    files = [root / "domain.yml", root / "config.yml", *sorted((root / "data").rglob("*.yml"))]
    files += sorted(p for d in ("bot/nlp", "bot/rasa_components") for p in (PROJECT_ROOT / d).rglob("*")
                    if p.suffix in (".py", ".yml"))
    for path in files:
        digest.update(str(path.relative_to(root) if path.is_relative_to(root) else path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def base_model(root: Path) -> Path:
    """A full training of the copy (cached); installed as the copy's models/current.tar.gz."""
    CACHE.mkdir(parents=True, exist_ok=True)
    cached = CACHE / f"base-{inputs_hash(root)}.tar.gz"
    if not cached.exists():
        name = f"tmp-{secrets.token_hex(4)}"
        subprocess.run([sys.executable, "-m", "rasa", "train", "--domain", "domain.yml", "--data",
                        "data", "--config", "config.yml", "--out", str(CACHE), "--fixed-model-name",
                        name, "--quiet"], cwd=root, env=_env(), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.replace(CACHE / f"{name}.tar.gz", cached)
        for stale in CACHE.glob("base-*.tar.gz"):  # models of inputs that changed since
            if stale != cached:
                stale.unlink(missing_ok=True)
    (root / "models").mkdir(exist_ok=True)
    shutil.copyfile(cached, root / "models" / "current.tar.gz")
    return root / "models" / "current.tar.gz"


def cli(project: Project, user: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(_env(), STAFF_PROJECT_DIR=str(project.root), DATABASE_URL=project.database_url,
               TRACKER_DB_URL=project.tracker_url, RASA_URL=project.rasa_url,
               RASA_API_TOKEN=project.api_token or "", STAFF_USER=user, STAFF_PASSWORD=PASSWORDS[user])
    return subprocess.run([sys.executable, "-m", "bot", "staff", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Project, Assistant, str]]:
    """The copy, its base model served by real servers (API on, token set), the staff page."""
    tmp = tmp_path_factory.mktemp("staff")
    # with the training caches, as the clinic's tree has them after `make train`
    root = sandbox_copy(tmp / "project", caches=True)
    model = base_model(root)
    token = secrets.token_urlsafe(24)
    # the project's credentials; the server loads models off the event loop (bot.runtime)
    config = serve.StackConfig(
        model=model, rasa_port=serve.free_port(), action_port=serve.free_port(),
        run_dir=tmp / "run", log_dir=tmp / "log",
        extra_env={"TRACKER_DB_URL": f"sqlite:///{tmp / 'tracker.db'}",
                   "DATABASE_URL": f"sqlite:///{tmp / 'clinic.db'}", "RASA_API_TOKEN": token},
    )
    project = Project(root=root, database_url=config.extra_env["DATABASE_URL"],
                      tracker_url=config.extra_env["TRACKER_DB_URL"],
                      rasa_url=f"http://127.0.0.1:{config.rasa_port}", api_token=token)
    migrate(project.database_url)  # serve.start migrates too: a no-op then
    sync_topics(load_topics_file(project.topics_file, project.article_file), project.database_url)
    carol = users.add_user(project.database_url, None, "carol", users.CLINICIAN, PASSWORDS["carol"])
    users.add_user(project.database_url, carol, "sam", users.STAFF, PASSWORDS["sam"])
    serve.start(config)
    web_port = serve.free_port()
    web_env = dict(_env(), STAFF_PROJECT_DIR=str(root), DATABASE_URL=project.database_url,
                   TRACKER_DB_URL=project.tracker_url, RASA_URL=project.rasa_url, RASA_API_TOKEN=token)
    web = subprocess.Popen([sys.executable, "-m", "bot", "staff", "web", "--port", str(web_port)],
                           cwd=PROJECT_ROOT, env=web_env, stdout=subprocess.DEVNULL,
                           stderr=(tmp / "staff-web.log").open("w"))
    try:
        serve.wait_ready(f"http://127.0.0.1:{web_port}/health", 60, web.pid)
        yield project, Assistant(config), f"http://127.0.0.1:{web_port}"
    finally:
        web.terminate()
        web.wait(timeout=30)
        serve.stop(config)


def inbox_texts(project: Project) -> List[str]:
    staff = users.User("sam", users.STAFF)
    return [m.text for g in inbox.inbox(project, staff) for m in g.messages]


def log_in(base: str, username: str) -> Tuple[requests.Session, str]:
    browser = requests.Session()
    form = browser.get(f"{base}/login").text
    reply = browser.post(f"{base}/login", data={"username": username, "password": PASSWORDS[username],
                                                 "csrf": CSRF.search(form).group(1)})  # type: ignore[union-attr]
    assert reply.status_code == 200 and reply.url.endswith("/"), reply.text
    return browser, CSRF.search(reply.text).group(1)  # type: ignore[union-attr]


def test_the_staff_loop_end_to_end(stack: Tuple[Project, Assistant, str]) -> None:
    project, assistant, web = stack
    figures: Dict[str, Any] = {}

    # 1. people chat; the assistant is unsure about one question, another person says an
    #    answer was wrong (thumbs down) in a message full of personal details
    before = Assistant.topic(assistant.send("person-a", QUESTION))
    assert before != RIGHT_TOPIC, "the base model already answers this; pick another question"
    assistant.send("person-b", PERSONAL)
    store_feedback(Feedback("person-b", "down", None, 0), project.database_url)
    assistant.send("person-c", NEW_TOPIC_QUESTION)

    # 2. the inbox shows them, masked
    texts = inbox_texts(project)
    assert QUESTION in texts
    [personal] = [t for t in texts if "kombucha calm my nerves" in t]
    assert personal == "Hi, I'm [name] ([email], [phone]). Can kombucha calm my nerves?"
    listing = cli(project, "sam", "inbox")
    assert listing.returncode == 0, listing.stderr
    for secret in ("Sarah", "Connor", "sarah.connor", "555-0199", "person-b"):
        assert secret not in listing.stdout
    assert "thumbs down" in listing.stdout and QUESTION in listing.stdout

    # 3. the staff page refuses what has no login or no valid CSRF token
    anonymous = requests.post(f"{web}/label", data={"ids": "1", "topic": RIGHT_TOPIC}, allow_redirects=False)
    assert anonymous.status_code == 401
    assert requests.get(f"{web}/", allow_redirects=False).headers["Location"] == "/login"
    browser, csrf = log_in(web, "sam")
    page = browser.get(f"{web}/").text
    assert "Sarah" not in page and "[email]" in page
    [event_id] = [m.event_id for g in inbox.inbox(project, users.User("sam", users.STAFF))
                  for m in g.messages if m.text == QUESTION]
    form = {"ids": str(event_id), "topic": RIGHT_TOPIC}
    assert browser.post(f"{web}/label", data=form).status_code == 403  # no token
    assert browser.post(f"{web}/label", data={**form, "csrf": "forged"}).status_code == 403
    cross_site = browser.post(f"{web}/label", data={**form, "csrf": csrf},
                              headers={"Origin": "https://attacker.example"})
    assert cross_site.status_code == 403
    assert not project.staff_examples_file.exists()

    # 4. staff label it on the page (the same core as the CLI)
    labelled_at = time.monotonic()
    reply = browser.post(f"{web}/label", data={**form, "csrf": csrf})
    assert reply.status_code == 200 and "labelled diet" in reply.text
    assert QUESTION in project.staff_examples_file.read_text()
    assert QUESTION not in inbox_texts(project)

    # 5. a staff member proposes a new topic; it stays out until a clinician approves
    proposed = cli(project, "sam", "add-topic", "--id", "fermented_foods", "--title",
                   "Are fermented foods good for mood?", "--answer",
                   "The article does not study fermented foods; it explains that the gut houses "
                   "about 100 trillion microbes.", "--quote", ARTICLE_QUOTE,
                   "--example", NEW_TOPIC_QUESTION, "--example", "is kimchi good for anxiety",
                   "--example", "fermented food and depression")
    assert proposed.returncode == 0, proposed.stderr
    change_id = int(re.search(r"Change (\d+)", proposed.stdout).group(1))  # type: ignore[union-attr]
    refused = cli(project, "sam", "approve", str(change_id))
    assert refused.returncode == 2 and "Only a clinician" in refused.stderr
    assert "fermented_foods" not in project.domain_file.read_text()
    assert "fermented_foods" not in project.topics_file.read_text()

    # 6. retrain: full training, checks, swap into the running server while a client keeps sending
    live_before = deploy.live_model_file(project)
    report = deploy.retrain(project, users.User("sam", users.STAFF),
                            strict_crisis=False, probe=True, progress=print)
    print(report.text())
    live_at = time.monotonic()
    assert report.ok, report.text()
    assert report.mode == deploy.FULL
    assert report.pending_not_included and "fermented_foods" in report.pending_not_included[0]
    assert report.probe is not None and report.probe.sent > 10
    assert report.probe.failed == 0, report.probe.failures
    assert Path(deploy.live_model_file(project) or "").name == f"{report.model}.tar.gz"
    figures.update({
        "label_to_live_seconds": round(live_at - labelled_at, 1),
        "label_to_live_seconds_core": report.label_to_live_seconds,
        "timings": {k: round(v, 1) for k, v in report.timings.items()},
        "swap_requests": report.probe.sent, "swap_errors": report.probe.errors,
        "swap_apologies": report.probe.apologies, "swap_slowest_ms": round(report.probe.slowest_ms),
        "accuracy_before": report.live_accuracy, "accuracy_after": report.candidate_accuracy,
        "checks": [(c.name, c.ok, c.message) for c in report.checks], "table": report.table,
    })

    # 7. the same message now gets the right topic; the unapproved topic is nowhere
    assert Assistant.topic(assistant.send("person-a2", QUESTION)) == RIGHT_TOPIC
    assert Assistant.topic(assistant.send("person-c2", NEW_TOPIC_QUESTION)) != "fermented_foods"
    with session_scope(project.database_url) as session:
        assert session.get(KnowledgeTopicRow, "fermented_foods") is None

    # 8. one-command rollback: the earlier model file, no training
    rolled = cli(project, "sam", "rollback", "--probe")
    assert rolled.returncode == 0, rolled.stderr
    swap = re.search(r"Requests during the swap: (\d+) sent, (\d+) failed", rolled.stdout)
    assert swap and int(swap.group(1)) > 10 and swap.group(2) == "0", rolled.stdout
    figures["rollback_swap"] = {"sent": int(swap.group(1)), "failed": int(swap.group(2))}
    assert Path(deploy.live_model_file(project) or "").name != f"{report.model}.tar.gz"
    assert Assistant.topic(assistant.send("person-a3", QUESTION)) == before
    history = cli(project, "sam", "history")
    assert "rolled_back" in history.stdout and "live" in history.stdout
    figures["live_before"] = Path(live_before or "").name

    # 9. the clinician approves the new topic: data and KB updated, a full training is next
    approved = cli(project, "carol", "approve", str(change_id))
    assert approved.returncode == 0, approved.stderr
    assert deploy.plan_mode(project, Path(deploy.live_model_file(project) or ""))[0] == deploy.FULL
    assert checks.validate_data(project, project.work_dir / "validate-after-approval.log").ok
    assert checks.knowledge_consistent(project).ok
    audit = cli(project, "carol", "audit")
    for action in ("label", "propose", "approve_refused", "deploy", "rollback", "approve"):
        assert f" {action} " in audit.stdout, audit.stdout
    assert changes.pending(project, users.User("carol", users.CLINICIAN)) == []

    FIGURES.write_text(json.dumps(figures, indent=2, default=str))
