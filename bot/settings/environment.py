"""Every environment variable the project reads, declared once: name, type, default, doc.

:class:`Environment` is a frozen dataclass whose fields are the variables; each field names
its variable and says in one line what it does (``var(...)`` below). The type is the field's
annotation, the default its default. :meth:`Environment.from_environ` reads a mapping (the
process environment, or a child process's, or a test's dict) into one, so no other module
parses a variable, and the README's table is generated from these declarations
(``python -m bot settings table``; ``tests/unit/test_settings.py`` keeps it up to date).

Parsing: a variable that is unset, or set to an empty string, takes the default (a variable
of type ``str`` whose default is ``None`` keeps an empty string as given); ``bool`` is true for
1/true/yes/on (any case); ``int``, ``float`` and ``Path`` are converted, and a value that does
not convert is an error naming the variable.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import (Any, Dict, FrozenSet, Iterator, List, Mapping, Optional, Tuple, Union,
                    get_args, get_type_hints)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VAR_DIR = PROJECT_ROOT / "var"
DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'clinic.db'}"
DEFAULT_TRACKER_URL = f"sqlite:///{VAR_DIR / 'tracker.db'}"

TRUE_WORDS = ("1", "true", "yes", "on")


def var(name: str, default: Any, doc: str, *, overrides: Optional[Tuple[str, str]] = None,
        shown_default: Optional[str] = None) -> Any:
    """Declare one environment variable as a field of :class:`Environment`.

    ``overrides``: the (section, key) of config/clinic.yml the variable overrides.
    ``shown_default``: how the README shows the default when it is not the value itself
    (a path under the project, or what "unset" means).
    """
    return field(default=default, metadata={
        "env": name, "doc": doc, "overrides": overrides, "shown_default": shown_default})


@dataclass(frozen=True)
class Variable:
    """One declaration, as the README table and the parser see it."""

    attribute: str
    name: str
    type_name: str
    default: Any
    doc: str
    overrides: Optional[Tuple[str, str]]
    shown_default: Optional[str]

    @property
    def keeps_empty(self) -> bool:
        """Only a text variable without a default tells "set to empty" from "unset"."""
        return self.default is None and self.type_name == "str"

    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if self.default is None or self.default == "":
            return "—"
        if isinstance(self.default, bool):
            return "1" if self.default else "0"
        return str(self.default)


@dataclass(frozen=True)
class Environment:
    """The environment as the project reads it (see the module docstring)."""

    # --- clinic details (override config/clinic.yml) ---------------------------------------
    clinic_config: Optional[Path] = var(
        "CLINIC_CONFIG", None, "the clinic settings file", shown_default="config/clinic.yml")
    clinic_name: Optional[str] = var(
        "CLINIC_NAME", None, "the clinic's name", overrides=("clinic", "name"),
        shown_default="clinic.yml")
    clinic_doctor: Optional[str] = var(
        "CLINIC_DOCTOR", None, "the naturopathic doctor's name", overrides=("clinic", "doctor"),
        shown_default="clinic.yml")
    clinic_phone: Optional[str] = var(
        "CLINIC_PHONE", None, "the clinic's phone number", overrides=("clinic", "phone"),
        shown_default="clinic.yml")
    clinic_booking_url: Optional[str] = var(
        "CLINIC_BOOKING_URL", None, "the online booking page", overrides=("clinic", "booking_url"),
        shown_default="clinic.yml")
    clinic_hours: Optional[str] = var(
        "CLINIC_HOURS", None, "opening hours in words", overrides=("clinic", "hours"),
        shown_default="clinic.yml")
    clinic_privacy_url: Optional[str] = var(
        "CLINIC_PRIVACY_URL", None, "the privacy notice", overrides=("clinic", "privacy_url"),
        shown_default="clinic.yml")
    clinic_website: Optional[str] = var(
        "CLINIC_WEBSITE", None, "the clinic's website", overrides=("clinic", "website"),
        shown_default="clinic.yml")
    clinic_email: Optional[str] = var(
        "CLINIC_EMAIL", None, "an email address shown to people (optional)",
        overrides=("clinic", "email"), shown_default="clinic.yml")
    clinic_timezone: Optional[str] = var(
        "CLINIC_TIMEZONE", None, "the time zone of the opening hours",
        overrides=("clinic", "timezone"), shown_default="clinic.yml")
    article_url: Optional[str] = var(
        "ARTICLE_URL", None, "the clinic's article the answers cite", overrides=("article", "url"),
        shown_default="clinic.yml")
    allow_placeholders: bool = var(
        "ALLOW_PLACEHOLDERS", False,
        "1: start the production set-up although clinic.yml still holds placeholder details")

    # --- databases and stores --------------------------------------------------------------
    database_url: str = var(
        "DATABASE_URL", DEFAULT_DATABASE_URL,
        "SQLAlchemy URL of the clinic database (knowledge, bookings, staff, feedback)",
        shown_default="SQLite `var/clinic.db`")
    tracker_db_url: str = var(
        "TRACKER_DB_URL", DEFAULT_TRACKER_URL,
        "SQLAlchemy URL of the conversation store (Rasa's tracker store)",
        shown_default="SQLite `var/tracker.db`")
    tracker_db_password: Optional[str] = var(
        "TRACKER_DB_PASSWORD", None, "the conversation store's PostgreSQL password")
    tracker_db_connect_timeout: int = var(
        "TRACKER_DB_CONNECT_TIMEOUT", 3,
        "seconds to wait for a PostgreSQL conversation store connection")
    redis_url: Optional[str] = var(
        "REDIS_URL", None, "Redis lock store (needed with more than one Rasa server)",
        shown_default="— (Rasa's in-memory lock store)")
    redis_password: Optional[str] = var(
        "REDIS_PASSWORD", None, "the Redis password (Rasa reads it through endpoints.yml)")
    lock_poll_seconds: float = var(
        "LOCK_POLL_SECONDS", 0.05, "how often a turn waiting for a conversation's lock looks again")
    lock_owner_ttl_seconds: float = var(
        "LOCK_OWNER_TTL_SECONDS", 5.0,
        "seconds after which a silent Rasa server's lock ticket is dropped")
    ticket_lock_lifetime: int = var(
        "TICKET_LOCK_LIFETIME", 15, "seconds a conversation lock ticket lives at most")

    # --- servers ---------------------------------------------------------------------------
    rasa_port: int = var("RASA_PORT", 5005, "the Rasa server's port (`make run`)")
    rasa_interface: str = var("RASA_INTERFACE", "127.0.0.1", "the address the Rasa server binds")
    rasa_model: Optional[Path] = var(
        "RASA_MODEL", None, "the model the servers load",
        shown_default="`models/current.tar.gz`")
    rasa_url: Optional[str] = var(
        "RASA_URL", None, "the Rasa server the staff page talks to",
        shown_default="http://127.0.0.1:$RASA_PORT")
    rasa_public_url: Optional[str] = var(
        "RASA_PUBLIC_URL", None, "the Rasa server as the widget's browser reaches it",
        shown_default="http://127.0.0.1:$RASA_PORT")
    rasa_api_token: Optional[str] = var(
        "RASA_API_TOKEN", None, "the token of Rasa's HTTP API (overrides the token file)")
    rasa_api_token_file: Path = var(
        "RASA_API_TOKEN_FILE", VAR_DIR / "rasa-api-token",
        "where `make run` keeps the generated API token", shown_default="`var/rasa-api-token`")
    action_port: int = var("ACTION_PORT", 5055, "the action server's port")
    action_server_url: Optional[str] = var(
        "ACTION_SERVER_URL", None, "the action server's webhook, as Rasa calls it",
        shown_default="http://127.0.0.1:$ACTION_PORT/webhook")
    action_timeout: Optional[float] = var(
        "ACTION_TIMEOUT", None,
        "seconds Rasa waits for an action before the apology (credentials.yml `action_timeout` "
        "wins)", shown_default="5")
    web_port: int = var("WEB_PORT", 8080, "the widget server's port (0: no widget server)")
    cors_origins: str = var(
        "CORS_ORIGINS", "", "space-separated origins allowed to call the servers from a browser",
        shown_default="the demo page's")
    run_dir: Path = var(
        "RUN_DIR", VAR_DIR / "run", "pid files and generated endpoints/credentials",
        shown_default="`var/run`")
    log_dir: Path = var("LOG_DIR", VAR_DIR / "log", "the servers' logs", shown_default="`var/log`")
    trust_proxy_headers: bool = var(
        "TRUST_PROXY_HEADERS", False,
        "1: take the client address and URL from X-Forwarded-* (only behind your own proxy)")
    rate_limit_sender_limit: int = var(
        "RATE_LIMIT_SENDER_LIMIT", 10, "messages one conversation may send per window")
    rate_limit_sender_window: float = var(
        "RATE_LIMIT_SENDER_WINDOW", 5.0, "the per-conversation window, seconds")
    rate_limit_address_limit: int = var(
        "RATE_LIMIT_ADDRESS_LIMIT", 200, "REST messages one address may send per window")
    rate_limit_address_window: float = var(
        "RATE_LIMIT_ADDRESS_WINDOW", 1.0, "the per-address window, seconds")
    rate_limit_feedback_limit: int = var(
        "RATE_LIMIT_FEEDBACK_LIMIT", 30, "widget votes one address may send per window")
    rate_limit_feedback_window: float = var(
        "RATE_LIMIT_FEEDBACK_WINDOW", 60.0, "the widget-vote window, seconds")
    sender_id_key: Optional[str] = var(
        "SENDER_ID_KEY", None, "the key that turns a messaging channel's user id into a sender id")
    sender_id_key_file: Path = var(
        "SENDER_ID_KEY_FILE", VAR_DIR / "keys" / "sender-id.key",
        "where that key is generated when SENDER_ID_KEY is unset",
        shown_default="`var/keys/sender-id.key`")
    bot_show_all_warnings: bool = var(
        "BOT_SHOW_ALL_WARNINGS", False, "1: show the library warnings config/warnings.yml hides")

    # --- production set-up (bot/deploy/prod.py) --------------------------------------------
    prod_rasa_replicas: int = var("PROD_RASA_REPLICAS", 2, "Rasa servers")
    prod_action_replicas: int = var("PROD_ACTION_REPLICAS", 2, "action servers")
    prod_port: int = var("PROD_PORT", 5100, "HAProxy's port for people")
    prod_action_port: Optional[int] = var(
        "PROD_ACTION_PORT", None, "HAProxy's port for the Rasa servers' action calls",
        shown_default="PROD_PORT + 50")
    prod_stats_port: Optional[int] = var(
        "PROD_STATS_PORT", None, "HAProxy's statistics page", shown_default="PROD_PORT + 99")
    prod_bind: str = var("PROD_BIND", "127.0.0.1", "the address HAProxy binds")
    prod_lock_store: Optional[str] = var(
        "PROD_LOCK_STORE", None, "the lock store class",
        shown_default="`bot.runtime.locks.AtomicRedisLockStore`")
    prod_run_dir: Optional[Path] = var(
        "PROD_RUN_DIR", None, "pid and generated files", shown_default="`var/run/prod`")
    prod_log_dir: Optional[Path] = var(
        "PROD_LOG_DIR", None, "logs", shown_default="`var/log/prod`")

    # --- notifications (bot/notify) --------------------------------------------------------
    notify_email_to: str = var("NOTIFY_EMAIL_TO", "", "the front desk's address for new requests")
    notify_email_from: str = var("NOTIFY_EMAIL_FROM", "", "the sender of those emails")
    smtp_host: str = var("SMTP_HOST", "", "the mail server (unset: no email)")
    smtp_port: int = var("SMTP_PORT", 587, "its port (STARTTLS)")
    smtp_username: str = var("SMTP_USERNAME", "", "its user name")
    smtp_password: str = var("SMTP_PASSWORD", "", "its password")
    smtp_ca_file: str = var("SMTP_CA_FILE", "", "a private CA certificate for it")
    smtp_timeout: float = var("SMTP_TIMEOUT", 20.0, "seconds to wait for it")
    notify_webhook_url: str = var("NOTIFY_WEBHOOK_URL", "", "a webhook told of each new request")
    notify_webhook_secret: str = var(
        "NOTIFY_WEBHOOK_SECRET", "", "the key the webhook's calls are signed with")
    notify_webhook_timeout: float = var(
        "NOTIFY_WEBHOOK_TIMEOUT", 10.0, "seconds to wait for the webhook")
    notify_full_details: bool = var(
        "NOTIFY_FULL_DETAILS", False, "1: put name, contact and reason in the email")
    notify_poll_seconds: float = var(
        "NOTIFY_POLL_SECONDS", 2.0, "how often the notifier looks for new requests")
    notify_health_host: str = var(
        "NOTIFY_HEALTH_HOST", "127.0.0.1", "the address of the notifier's health check")
    notify_health_port: Optional[int] = var(
        "NOTIFY_HEALTH_PORT", None, "the notifier's health check port (unset: none)")
    staff_url: Optional[str] = var(
        "STAFF_URL", None, "the staff page's address, for links in notifications",
        shown_default="http://127.0.0.1:$STAFF_PORT")

    # --- privacy (bot/privacy) -------------------------------------------------------------
    privacy_retention_days: Optional[int] = var(
        "PRIVACY_RETENTION_DAYS", None, "days conversations and closed requests are kept",
        shown_default="clinic.yml (90)")
    privacy_audit_key: Optional[str] = var(
        "PRIVACY_AUDIT_KEY", None, "the HMAC key of the privacy audit log",
        shown_default="generated into `var/privacy-audit.key`")

    # --- staff page and commands (bot/staff) -----------------------------------------------
    staff_port: int = var("STAFF_PORT", 8090, "the staff page's port")
    staff_project_dir: Optional[Path] = var(
        "STAFF_PROJECT_DIR", None, "the project tree the staff loop works on",
        shown_default="this checkout")
    staff_user: Optional[str] = var("STAFF_USER", None, "who runs a staff command (`--user`)")
    staff_password: Optional[str] = var(
        "STAFF_PASSWORD", None, "that user's password, for scripts (else asked)")
    staff_new_password: Optional[str] = var(
        "STAFF_NEW_PASSWORD", None, "a new account's password, for scripts (else asked)")
    staff_allow_self_approval: Optional[bool] = var(
        "STAFF_ALLOW_SELF_APPROVAL", None, "clinic.yml `staff.allow_self_approval`",
        shown_default="clinic.yml (0)")
    staff_https: Optional[bool] = var(
        "STAFF_HTTPS", None, "clinic.yml `staff.https`: cookies are Secure",
        shown_default="clinic.yml (0)")
    staff_login_address_free: Optional[int] = var(
        "STAFF_LOGIN_ADDRESS_FREE", None, "clinic.yml `staff.login_address_free`",
        shown_default="clinic.yml (5)")
    staff_login_user_free: Optional[int] = var(
        "STAFF_LOGIN_USER_FREE", None, "clinic.yml `staff.login_user_free`",
        shown_default="clinic.yml (5)")
    staff_login_backoff_seconds: Optional[float] = var(
        "STAFF_LOGIN_BACKOFF_SECONDS", None, "clinic.yml `staff.login_backoff_seconds`",
        shown_default="clinic.yml (1.0)")
    staff_login_backoff_max_seconds: Optional[float] = var(
        "STAFF_LOGIN_BACKOFF_MAX_SECONDS", None, "clinic.yml `staff.login_backoff_max_seconds`",
        shown_default="clinic.yml (300.0)")
    staff_login_window_seconds: Optional[float] = var(
        "STAFF_LOGIN_WINDOW_SECONDS", None, "clinic.yml `staff.login_window_seconds`",
        shown_default="clinic.yml (900.0)")
    staff_session_minutes: Optional[int] = var(
        "STAFF_SESSION_MINUTES", None, "minutes a staff login lasts idle (`staff.session_minutes`)",
        shown_default="30")
    staff_retrain_seconds: Optional[int] = var(
        "STAFF_RETRAIN_SECONDS", None,
        "the retrain time the staff page announces (`staff.retrain_seconds`)", shown_default="150")
    staff_inbox_threshold: Optional[float] = var(
        "STAFF_INBOX_THRESHOLD", None,
        "confidence below which a message goes to the staff inbox (`staff.inbox_threshold`)",
        shown_default="0.6")
    staff_group_similarity: Optional[float] = var(
        "STAFF_GROUP_SIMILARITY", None,
        "word overlap above which the inbox groups two messages (`staff.group_similarity`)",
        shown_default="0.5")
    staff_group_meaning_similarity: Optional[float] = var(
        "STAFF_GROUP_MEANING_SIMILARITY", None,
        "sentence-vector cosine above which the inbox groups two messages "
        "(`staff.group_meaning_similarity`)", shown_default="0.8")

    # --- messaging channels: Rasa reads these through credentials.yml; a channel is on when
    # all of its variables are set (bot/channels/credentials.py) -----------------------------
    telegram_token: Optional[str] = var("TELEGRAM_TOKEN", None, "Telegram: the bot's token")
    telegram_verify: Optional[str] = var("TELEGRAM_VERIFY", None, "Telegram: the bot's name")
    telegram_webhook_url: Optional[str] = var(
        "TELEGRAM_WEBHOOK_URL", None, "Telegram: the public webhook URL")
    telegram_secret_token: Optional[str] = var(
        "TELEGRAM_SECRET_TOKEN", None, "Telegram: the webhook's secret",
        shown_default="derived from the token")
    twilio_account_sid: Optional[str] = var("TWILIO_ACCOUNT_SID", None, "Twilio: the account")
    twilio_auth_token: Optional[str] = var("TWILIO_AUTH_TOKEN", None, "Twilio: the auth token")
    twilio_number: Optional[str] = var("TWILIO_NUMBER", None, "Twilio: the sending number")
    twilio_webhook_url: Optional[str] = var(
        "TWILIO_WEBHOOK_URL", None, "Twilio: the public webhook URL Twilio signs",
        shown_default="the request's URL")
    fb_verify: Optional[str] = var("FB_VERIFY", None, "Messenger: the verify token")
    fb_secret: Optional[str] = var("FB_SECRET", None, "Messenger: the app secret")
    fb_page_access_token: Optional[str] = var(
        "FB_PAGE_ACCESS_TOKEN", None, "Messenger: the page access token")
    slack_token: Optional[str] = var("SLACK_TOKEN", None, "Slack: the bot token")
    slack_signing_secret: Optional[str] = var(
        "SLACK_SIGNING_SECRET", None, "Slack: the signing secret")
    telegram_api_url: Optional[str] = var(
        "TELEGRAM_API_URL", None, "Telegram API base URL (tests only)",
        shown_default="the provider's")
    twilio_api_url: Optional[str] = var(
        "TWILIO_API_URL", None, "Twilio API base URL (tests only)", shown_default="the provider's")
    fb_graph_url: Optional[str] = var(
        "FB_GRAPH_URL", None, "Messenger Graph API base URL (tests only)",
        shown_default="the provider's")
    slack_api_url: Optional[str] = var(
        "SLACK_API_URL", None, "Slack API base URL (tests only)", shown_default="the provider's")

    # Which variables were set (not part of the declarations).
    given: FrozenSet[str] = field(default=frozenset(), repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "Environment":
        """Read ``environ`` (any mapping of variable names to strings)."""
        values: Dict[str, Any] = {}
        given = set()
        for item in variables():
            raw = environ.get(item.name)
            if raw is None or (raw == "" and not item.keeps_empty):
                continue
            given.add(item.name)
            values[item.attribute] = _parse(item, raw)
        return cls(given=frozenset(given), **values)

    def explicit(self, name: str) -> Any:
        """The variable ``name``'s value when it was set, else None (for another default)."""
        item = _by_name()[name]
        return getattr(self, item.attribute) if name in self.given else None

    def as_environ(self) -> Dict[str, str]:
        """The set variables as strings, by name (e.g. to see which channels are complete)."""
        result = {}
        for item in variables():
            if item.name in self.given:
                value = getattr(self, item.attribute)
                result[item.name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return result

    def tracker_url(self) -> str:
        """The conversation store's SQLAlchemy URL, with ``TRACKER_DB_PASSWORD`` filled in
        (the one place that builds it: privacy jobs, staff inbox, widget votes, migrations)."""
        from sqlalchemy.engine.url import make_url

        url = self.tracker_db_url
        parsed = make_url(url)
        if (self.tracker_db_password and not parsed.password
                and parsed.get_backend_name() != "sqlite"):
            return parsed.set(password=self.tracker_db_password).render_as_string(
                hide_password=False)
        return url


def _parse(item: Variable, raw: str) -> Any:
    kind = item.type_name
    try:
        if kind == "bool":
            return raw.strip().lower() in TRUE_WORDS
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
        return raw
    except ValueError:
        raise ValueError(f"environment variable {item.name} must be {kind}, not {raw!r}") from None


def _type_name(annotation: Any) -> str:
    """``Optional[int]`` → "int", ``Path`` → "Path"."""
    options = [arg for arg in get_args(annotation) if arg is not type(None)] \
        if getattr(annotation, "__origin__", None) is Union else [annotation]
    if len(options) != 1 or options[0] not in (str, int, float, bool, Path):
        raise TypeError(f"unsupported settings type {annotation!r}")
    return str(options[0].__name__)


def _declared() -> Iterator[Variable]:
    hints = get_type_hints(Environment)
    for item in dataclasses.fields(Environment):
        if "env" not in item.metadata:
            continue
        yield Variable(item.name, item.metadata["env"], _type_name(hints[item.name]),
                       item.default, item.metadata["doc"], item.metadata["overrides"],
                       item.metadata["shown_default"])


_VARIABLES: List[Variable] = []


def variables() -> List[Variable]:
    """Every declared variable, in declaration order."""
    if not _VARIABLES:
        _VARIABLES.extend(_declared())
    return _VARIABLES


def _by_name() -> Dict[str, Variable]:
    return {item.name: item for item in variables()}


def markdown_table() -> str:
    """The README's table of environment variables, generated from the declarations."""
    lines = ["| variable | type | default | what it does |", "|---|---|---|---|"]
    for item in variables():
        lines.append(f"| `{item.name}` | {item.type_name} | {item.default_text()} | {item.doc} |")
    return "\n".join(lines) + "\n"
