"""The checks a candidate model must pass before it goes live, explained in plain words.

1. Rasa accepts the training data (``rasa data validate``) and the generated knowledge
   rules are current.
2. Optionally, the project's test suite passes.
3. On the held-out set the candidate is not worse overall than the live model, and it still
   recognises every crisis message (100% crisis recall). A per-topic table shows the change.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

from bot.knowledge.rules import render_rules
from bot.knowledge.store import KnowledgeError, load_topics_file
from bot.settings import PROJECT_ROOT
from bot.staff.evaluate import Evaluation
from bot.staff.inbox import topic_of
from bot.staff.project import Project

DEFAULT_TEST_PATHS = ("tests/unit",)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    message: str


def _env() -> dict:
    # Allowed read of os.environ (tests/unit/test_settings.py): the child process's environment.
    return dict(os.environ, RASA_TELEMETRY_ENABLED="false", SQLALCHEMY_SILENCE_UBER_WARNING="1",
                PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])))


def _tail(text: str, lines: int = 6) -> str:
    kept = [line for line in text.splitlines() if line.strip() and "Warning" not in line]
    return "\n".join(kept[-lines:])


def validate_data(project: Project, log: Path) -> CheckResult:
    """``rasa data validate`` on the project's domain, data and config."""
    result = subprocess.run(
        [project.python, "-m", "bot.run", "rasa", "data", "validate", "--domain", str(project.domain_file),
         "--data", str(project.data_dir), "--config", str(project.config_file)],
        cwd=project.root, env=_env(), capture_output=True, text=True, check=False,
    )
    log.write_text(result.stdout + result.stderr, encoding="utf-8")
    return validation_check(result.returncode == 0, log)


def validation_check(accepted: bool, log: Path) -> CheckResult:
    """The check's verdict on one ``rasa data validate`` run whose output is in ``log``."""
    if not accepted:
        said = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        return CheckResult("training data", False,
                           "Rasa cannot use the training data as it is, so nothing was changed. "
                           f"What Rasa said:\n{_tail(said)}\n(full log: {log})")
    return CheckResult("training data", True, "Rasa accepts the training data.")


def knowledge_consistent(project: Project) -> CheckResult:
    try:
        ids = [t.id for t in load_topics_file(project.topics_file, project.article_file)]
    except KnowledgeError as error:
        return CheckResult("knowledge base", False, f"The knowledge base has a problem: {error}")
    current = project.rules_file.read_text(encoding="utf-8") if project.rules_file.exists() else ""
    if current != render_rules(ids, project.domain_file):
        return CheckResult("knowledge base", False,
                           "The answer rules do not match the knowledge base; run "
                           "`python -m bot kb rules` and retrain.")
    return CheckResult("knowledge base", True, "Every topic has its answer rule and verbatim quotes.")


def run_tests(project: Project, paths: Sequence[str] = DEFAULT_TEST_PATHS) -> CheckResult:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", *paths], cwd=PROJECT_ROOT, env=_env(),
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        return CheckResult("tests", False, "The automated tests failed, so the new version was not "
                           f"put live. Last lines:\n{_tail(result.stdout, 8)}")
    return CheckResult("tests", True, _tail(result.stdout, 1) or "The tests pass.")


def _missed_crisis(evaluation: Evaluation) -> List[str]:
    return [t for t, e, g in evaluation.examples if e == "crisis" and g != "crisis"]


def crisis_check(live: Optional[Evaluation], candidate: Evaluation, strict: bool = True) -> CheckResult:
    """Every held-out crisis message must be recognised.

    ``strict`` (the default): 100% crisis recall, whatever the live model does. Otherwise the
    candidate must recognise every crisis message the live model recognises (and 100% when
    the live model has 100%); messages both miss are listed for the developers.
    """
    hit, total = candidate.crisis
    missed = _missed_crisis(candidate)
    if not missed:
        return CheckResult("crisis", True, f"All {total} crisis messages recognised.")
    examples = "; ".join(repr(m) for m in missed[:3])
    if strict or live is None:
        return CheckResult(
            "crisis", False,
            f"The new version missed {total - hit} of {total} crisis messages in the test set "
            f"({examples}). Crisis messages must always be recognised, so it was not put live. "
            "This needs a developer: the crisis safety net (bot/nlp/crisis_patterns.yml) or the "
            "crisis examples must be improved; labelling other topics cannot fix it.")
    newly_missed = sorted(set(missed) - set(_missed_crisis(live)))
    if newly_missed:
        return CheckResult(
            "crisis", False,
            f"The new version misses crisis messages the live one recognises "
            f"({'; '.join(repr(m) for m in newly_missed[:3])}). Crisis messages must always be "
            "recognised, so it was not put live.")
    return CheckResult(
        "crisis", True,
        f"{hit} of {total} crisis messages recognised; none lost, but the live model already "
        f"misses {examples}. Tell the developers: the crisis safety net must catch these.")


def compare(live: Optional[Evaluation], candidate: Evaluation, max_drop: float = 0.0,
            strict_crisis: bool = True) -> List[CheckResult]:
    """The held-out checks: crisis messages all recognised, overall accuracy does not drop."""
    results = [crisis_check(live, candidate, strict_crisis)]
    if live is None:
        results.append(CheckResult(
            "accuracy", True,
            f"No live model to compare with; the new one scores {candidate.accuracy:.1%}."))
    elif candidate.accuracy + max_drop < live.accuracy:
        results.append(CheckResult(
            "accuracy", False,
            f"The new version got {candidate.accuracy:.1%} of the test questions right, the live one "
            f"{live.accuracy:.1%}. That would be a step back, so it was not put live. The table "
            "shows which topics got worse; more or clearer examples for them usually help."))
    else:
        results.append(CheckResult(
            "accuracy", True,
            f"Test questions answered right: {live.accuracy:.1%} now, {candidate.accuracy:.1%} with "
            "the new version."))
    return results


def comparison_table(live: Optional[Evaluation], candidate: Evaluation) -> str:
    """Per topic: recall (share of its test questions recognised) and F1, live vs candidate."""
    new = candidate.per_topic()
    old = live.per_topic() if live else {}
    lines = [f"{'topic':24s} {'n':>3s}  {'recall now':>10s} {'new':>5s}  {'F1 now':>6s} {'new':>5s}  change"]
    for label in sorted(set(new) | set(old)):
        n, o = new.get(label), old.get(label)
        support = (n or o).support if (n or o) else 0  # type: ignore[union-attr]
        delta = (n.f1 if n else 0.0) - (o.f1 if o else 0.0)
        mark = "better" if delta > 0.005 else "WORSE" if delta < -0.005 else ""
        lines.append(f"{topic_of(label):24s} {support:3d}  "
                     f"{(o.recall if o else float('nan')):10.2f} {(n.recall if n else float('nan')):5.2f}  "
                     f"{(o.f1 if o else float('nan')):6.2f} {(n.f1 if n else float('nan')):5.2f}  {mark}")
    overall_old = f"{live.accuracy:.3f}" if live else "  -  "
    lines.append(f"{'overall accuracy':24s} {len(candidate.examples):3d}  {overall_old:>10s} "
                 f"{candidate.accuracy:5.3f}")
    return "\n".join(lines)
