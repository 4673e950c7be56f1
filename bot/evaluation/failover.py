"""The failover drill: visitors keep talking while one Rasa replica is killed (``kill -9``).

Simulated visitors follow the scripts of ``loadtest/conversations.yml`` through HAProxy, each
waiting for the reply and a think time before the next message. Part-way through, one Rasa
server is killed. The drill counts the requests that failed, times how long HAProxy took to
mark the replica down, and then reads every conversation back from the SQL tracker store:
the state is intact when each conversation is still one session holding every answered
message, in the order sent, each turn finished by Rasa.

Used by ``tests/e2e/test_prod.py`` (short) and ``loadtest/run.py failover`` (longer).
"""

from __future__ import annotations

import asyncio
import random
import tarfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import aiohttp
import yaml

from bot.deploy import prod
from bot.settings import PROJECT_ROOT

CONVERSATIONS_FILE = PROJECT_ROOT / "loadtest" / "conversations.yml"


@dataclass
class Script:
    name: str
    weight: int
    messages: List[str]
    needs: str = ""
    """A form the model must have (``booking_form``); empty: any model."""


def load_scripts(path: Path = CONVERSATIONS_FILE, model: Optional[Path] = None) -> List[Script]:
    """The visitors' scripts; with ``model``, only those the model can follow."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    scripts = [Script(str(item["name"]), int(item.get("weight", 1)),
                      [str(m) for m in item["messages"]], str(item.get("needs") or ""))
               for item in data["conversations"]]
    if model is None:
        return scripts
    forms = model_forms(model)
    return [script for script in scripts if not script.needs or script.needs in forms]


def model_forms(model: Path) -> Set[str]:
    """The forms in a trained model's domain (read from the archive, nothing loaded)."""
    with tarfile.open(model) as archive:
        for member in archive:
            if member.name.lstrip("/") == "components/domain_provider/domain.yml":
                handle = archive.extractfile(member)
                domain = yaml.safe_load(handle) if handle else {}
                return set((domain or {}).get("forms") or {})
    return set()


@dataclass
class Sent:
    """One request of the drill and what came of it."""

    sender: str
    text: str
    at_s: float
    latency_ms: float
    status: int
    ok: bool
    served_by: str = ""
    error: str = ""


def reply_ok(status: int, body: Any) -> bool:
    """A person got an answer: 200, at least one message, and not the apology for failures."""
    if status != 200 or not isinstance(body, list) or not body:
        return False
    return not any(isinstance(m, dict) and isinstance(m.get("custom"), dict)
                   and m["custom"].get("error") for m in body)


async def _visitor(session: aiohttp.ClientSession, url: str, sender: str, script: Script,
                   think: Tuple[float, float], began: float, until: float,
                   log: List[Sent], rng: random.Random) -> None:
    index = 0
    while time.monotonic() < until:
        text = script.messages[index % len(script.messages)]
        index += 1
        sent_at = time.monotonic()
        status, ok, served_by, error = 0, False, "", ""
        try:
            async with session.post(url, json={"sender": sender, "message": text}) as reply:
                status = reply.status
                served_by = reply.headers.get("X-Served-By", "")
                body = await reply.json(content_type=None)
                ok = reply_ok(status, body)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            error = type(exc).__name__
        log.append(Sent(sender, text, round(sent_at - began, 3),
                        round((time.monotonic() - sent_at) * 1000, 1), status, ok, served_by,
                        error))
        await asyncio.sleep(rng.uniform(*think))


async def _watch(config: prod.ProdConfig, victim: str, began: float, until: float,
                 seen: Dict[str, float]) -> None:
    """Record when HAProxy first reports the victim not UP."""
    loop = asyncio.get_running_loop()
    while time.monotonic() < until and "down_at_s" not in seen:
        try:
            state = await loop.run_in_executor(None, prod.backend_status, config)
        except OSError:
            state = {}
        if state.get(victim, "UP").split()[0] not in ("UP", "NOLB"):
            seen["down_at_s"] = time.monotonic() - began
            seen["state"] = state.get(victim, "")  # type: ignore[assignment]
        await asyncio.sleep(0.1)


@dataclass
class DrillResult:
    visitors: int
    seconds: float
    killed: Optional[str]
    kill_at_s: Optional[float]
    down_after_s: Optional[float]
    requests: int
    failed: int
    failed_after_kill: int
    failures: List[Dict[str, Any]]
    served_by: Dict[str, int]
    moved_conversations: int
    """Conversations answered by the killed replica before the kill and by another after."""
    state_problems: List[str] = field(default_factory=list)
    p95_ms: float = 0.0
    haproxy: Dict[str, int] = field(default_factory=dict)
    """Retries and redispatches HAProxy made for the Rasa backend (requests it saved)."""

    def summary(self) -> Dict[str, Any]:
        result = asdict(self)
        result["failures"] = self.failures[:20]
        return result


def _same_message(sent: str, stored: str) -> bool:
    """Equal, or masked by the tracker store once a booking form is over (bot.privacy)."""
    from bot.privacy import MASK

    return sent == stored or MASK in stored


def _is_subsequence(wanted: Sequence[str], within: Sequence[str]) -> bool:
    items = iter(within)
    return all(any(_same_message(text, candidate) for candidate in items) for text in wanted)


def check_state(config: prod.ProdConfig, log: List[Sent]) -> List[str]:
    """What the tracker store lost or mixed up, per conversation (empty: nothing)."""
    problems = []
    for sender in sorted({entry.sender for entry in log}):
        answered = [entry.text for entry in log if entry.sender == sender and entry.ok]
        stored = prod.tracker_turns(config.tracker_db_url, sender)
        texts = [turn.text for turn in stored["turns"]]
        if stored["sessions"] != 1:
            problems.append(f"{sender}: {stored['sessions']} sessions (state lost)")
        if not _is_subsequence(answered, texts):
            problems.append(f"{sender}: answered messages missing or out of order in the tracker")
        unfinished = [turn.text for turn in stored["turns"] if not turn.listened]
        if unfinished:
            problems.append(f"{sender}: {len(unfinished)} turn(s) not finished by Rasa")
    return problems


async def drill(config: prod.ProdConfig, visitors: int = 20, seconds: float = 20.0,
                kill_at_s: Optional[float] = 8.0, victim: str = "rasa-1",
                think: Tuple[float, float] = (0.5, 1.5), seed: int = 7) -> DrillResult:
    """Run the visitors for ``seconds``; ``kill -9`` ``victim`` at ``kill_at_s`` (None: never)."""
    from bot.evaluation.metrics import percentile

    rng = random.Random(seed)  # noqa: S311 (simulated visitors, repeatable; not security)
    scripts = load_scripts(model=config.model)
    log: List[Sent] = []
    seen: Dict[str, float] = {}
    tag = uuid.uuid4().hex[:6]
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=0)) as session:
        began = time.monotonic()
        until = began + seconds
        tasks = [
            asyncio.ensure_future(_visitor(
                session, config.url, f"drill-{tag}-{number}",
                rng.choices(scripts, weights=[s.weight for s in scripts])[0],
                think, began, until, log, random.Random(seed + number)))  # noqa: S311
            for number in range(visitors)
        ]
        killed_at: Optional[float] = None
        if kill_at_s is not None:
            await asyncio.sleep(kill_at_s)
            prod.kill(config, victim)
            killed_at = time.monotonic() - began
            tasks.append(asyncio.ensure_future(_watch(config, victim, began, until + 10, seen)))
        await asyncio.gather(*tasks)
    counters = prod.rasa_backend_counters(config)
    failures = [entry for entry in log if not entry.ok]
    served: Dict[str, int] = {}
    for entry in log:
        served[entry.served_by or "-"] = served.get(entry.served_by or "-", 0) + 1
    moved = 0
    if killed_at is not None:
        for sender in {entry.sender for entry in log}:
            before = {e.served_by for e in log if e.sender == sender and e.at_s < killed_at and e.ok}
            after = {e.served_by for e in log if e.sender == sender and e.at_s > killed_at and e.ok}
            moved += victim in before and bool(after - {victim})
    down_at = seen.get("down_at_s")
    return DrillResult(
        visitors=visitors,
        seconds=seconds,
        killed=victim if killed_at is not None else None,
        kill_at_s=round(killed_at, 2) if killed_at is not None else None,
        down_after_s=round(down_at - killed_at, 2) if down_at and killed_at else None,
        requests=len(log),
        failed=len(failures),
        failed_after_kill=sum(1 for e in failures if killed_at is not None
                              and e.at_s + e.latency_ms / 1000 >= killed_at),
        failures=[asdict(entry) for entry in failures],
        served_by=served,
        moved_conversations=moved,
        state_problems=check_state(config, log),
        p95_ms=round(percentile([e.latency_ms for e in log if e.ok], 0.95), 1),
        haproxy=counters,
    )
