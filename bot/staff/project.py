"""Where the staff loop finds the project: data files, models, databases, the Rasa server.

A ``Project`` names every path and address the core touches, so the same code runs on the
clinic's tree and, in tests, on a temporary copy of it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from bot.settings.token import read_token
from bot.knowledge.store import ARTICLE_FILE
from bot.settings import DEFAULT_TRACKER_URL, PROJECT_ROOT, environment, get_settings

STAFF_EXAMPLES_FILE = "staff_examples.yml"
DEFAULT_INBOX_THRESHOLD = 0.6
DEFAULT_GROUP_SIMILARITY = 0.5
# Cosine of two messages' sentence vectors above which they are grouped as one question.
DEFAULT_MEANING_SIMILARITY = 0.8
DEFAULT_SESSION_MINUTES = 30
DEFAULT_STAFF_PORT = 8090


@dataclass(frozen=True)
class Project:
    """The project tree and the services the staff loop works with."""

    root: Path = PROJECT_ROOT
    database_url: str = ""
    tracker_url: str = DEFAULT_TRACKER_URL
    rasa_url: str = "http://127.0.0.1:5005"
    api_token: Optional[str] = None
    python: str = sys.executable

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "Project":
        env = environment(environ)
        root = Path(env.staff_project_dir or PROJECT_ROOT).resolve()
        return cls(
            root=root,
            database_url=env.explicit("DATABASE_URL") or get_settings().database_url,
            tracker_url=env.tracker_url(),  # with TRACKER_DB_PASSWORD, as the privacy jobs
            rasa_url=env.rasa_url or f"http://127.0.0.1:{env.rasa_port}",
            api_token=read_token(environ),
        )

    # --- Rasa's declarative layer -------------------------------------------------------
    @property
    def domain_file(self) -> Path:
        return self.root / "domain.yml"

    @property
    def config_file(self) -> Path:
        return self.root / "config.yml"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def staff_examples_file(self) -> Path:
        return self.data_dir / "nlu" / STAFF_EXAMPLES_FILE

    def staff_topic_file(self, topic_id: str) -> Path:
        return self.data_dir / "nlu" / f"staff_{topic_id}.yml"

    @property
    def rules_file(self) -> Path:
        return self.data_dir / "rules_knowledge.yml"

    # --- knowledge base and held-out set ---------------------------------------------
    @property
    def topics_file(self) -> Path:
        return self.root / "bot" / "knowledge" / "topics.yml"

    @property
    def article_file(self) -> Path:
        local = self.root / "bot" / "knowledge" / "source" / ARTICLE_FILE.name
        return local if local.exists() else ARTICLE_FILE

    @property
    def holdout_dir(self) -> Path:
        return self.root / "tests" / "holdout"

    # --- models ----------------------------------------------------------------------
    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def live_model(self) -> Path:
        """The file ``make run`` starts the Rasa server with."""
        return self.models_dir / "current.tar.gz"

    @property
    def history_dir(self) -> Path:
        return self.models_dir / "history"

    @property
    def candidates_dir(self) -> Path:
        return self.models_dir / "candidates"

    @property
    def work_dir(self) -> Path:
        """Logs of training runs and the lock that keeps two retrains apart."""
        return self.root / "var" / "staff"


def staff_setting(key: str, default: Any) -> Any:
    """A tunable from ``config/clinic.yml`` → ``staff:`` (environment ``STAFF_<KEY>`` wins;
    each is declared in bot/settings/environment.py)."""
    env_value = getattr(get_settings().env, f"staff_{key}")
    if env_value is not None:
        return type(default)(env_value)
    section = get_settings().extra.get("staff") or {}
    value = section.get(key, default) if isinstance(section, Mapping) else default
    return type(default)(value)


def staff_flag(key: str) -> bool:
    """A yes/no setting under ``staff:`` (environment ``STAFF_<KEY>``: true/false, 1/0, yes/no);
    off unless set to yes."""
    env_value = getattr(get_settings().env, f"staff_{key}")
    if env_value is not None:
        return bool(env_value)
    section = get_settings().extra.get("staff") or {}
    value = section.get(key, False) if isinstance(section, Mapping) else False
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "on")


# What a working copy of the project needs to train and evaluate (the spaCy pipeline under
# var/spacy is linked, not copied: models refer to it by a path relative to the project).
SANDBOX_FILES = ("domain.yml", "config.yml", "data", "bot/knowledge/topics.yml", "tests/holdout")
# What a project tree that has been trained keeps between trainings: the encoder's vectors of
# the training examples and Rasa's training cache (both relative to the project).
TRAINING_CACHES = ("var/cache/encoder", ".rasa/cache")


def sandbox_copy(destination: Path, source: Path = PROJECT_ROOT, caches: bool = False) -> Path:
    """Copy the declarative layer of the project to ``destination`` (tests, dry runs).

    ``caches``: copy the training caches too, so the copy retrains as the clinic's own tree
    does after ``make train`` (only what changed is encoded and trained again)."""
    import shutil

    for name in SANDBOX_FILES:
        origin, target = source / name, destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, target)
        else:
            shutil.copyfile(origin, target)
    (destination / "var").mkdir(exist_ok=True)
    spacy_dir = destination / "var" / "spacy"
    if not spacy_dir.exists() and (source / "var" / "spacy").exists():
        spacy_dir.symlink_to(source / "var" / "spacy")
    for name in TRAINING_CACHES if caches else ():
        if (source / name).is_dir():
            shutil.copytree(source / name, destination / name, dirs_exist_ok=True)
    return destination
