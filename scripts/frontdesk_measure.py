"""Measure the front desk's notifications (issue 15).

``outage``: N requests stored while the SMTP server is down for a while and the worker is
killed with SIGKILL several times; then count what reached the (real, local, STARTTLS) SMTP
server: lost = expected messages never received, duplicated = received more than once.

``latency``: p95 of the chat reply over REST at a fixed rate (open load, bot/evaluation/load),
with bookings being completed meanwhile so the worker is sending, against an SMTP server that
answers in ``--smtp-delay`` seconds per mail (5 s) and one that answers at once.

    PYTHONPATH=$PWD .venv/bin/python scripts/frontdesk_measure.py outage
    PYTHONPATH=$PWD .venv/bin/python scripts/frontdesk_measure.py latency --rate 20 --seconds 40
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Dict, List

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from bot import db  # noqa: E402
from bot.booking.store import BookingRequest, save_booking  # noqa: E402
from bot.deploy import serve  # noqa: E402
from bot.migrations import migrate  # noqa: E402
from bot.booking import outbox  # noqa: E402
from tests.mailservers import SmtpServer  # noqa: E402


def _worker(env: Dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot", "notify", "worker"], cwd=PROJECT,
                            env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def outage(args: argparse.Namespace) -> Dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="notify-drill-"))
    url = f"sqlite:///{tmp / 'clinic.db'}"
    migrate(url)
    smtp = SmtpServer(tmp)
    smtp.handler.delay = args.smtp_delay
    env = {**os.environ, **smtp.env(), "DATABASE_URL": url, "PYTHONPATH": str(PROJECT),
           "NOTIFY_POLL_SECONDS": "0.2", "SMTP_TIMEOUT": "5", "NOTIFY_WEBHOOK_TIMEOUT": "5"}
    log = tmp / "worker.log"
    expected: List[str] = []
    rng = random.Random(15)  # noqa: S311 - a reproducible drill, not a secret

    def store(count: int) -> None:
        for _ in range(count):
            email = rng.random() < 0.5
            contact = f"p{uuid.uuid4().hex[:8]}@example.org" if email else "+14035550101"
            saved = save_booking(BookingRequest("Drill Person", contact,
                                                "email" if email else "phone", "any weekday"),
                                 uuid.uuid4().hex, url)
            expected.append(f"<{saved.reference}.clinic@clinic.test>")
            if email:
                expected.append(f"<{saved.reference}.receipt@clinic.test>")

    worker = _worker(env, log)
    kills = 0
    began = time.monotonic()
    # 1. SMTP down: requests are stored, the worker fails and backs off.
    store(args.requests // 3)
    time.sleep(args.outage_seconds)
    smtp.start()
    # 2. SMTP back; more requests while the worker is killed -9 at random moments.
    for _ in range(args.kills):
        store(args.requests // (3 * args.kills))
        time.sleep(rng.uniform(0.2, 1.5))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        kills += 1
        worker = _worker(env, log)
    store(args.requests - len({e.split('.')[0] for e in expected}))
    # 3. Wait until nothing is pending (a killed worker's lease expires after 45 s).
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        if outbox.counts(url).get(outbox.PENDING, 0) == 0:
            break
        time.sleep(1)
    worker.terminate()
    worker.wait()
    smtp.stop()
    received = Counter(str(m.message["Message-ID"]) for m in smtp.handler.received)
    lost = [e for e in expected if e not in received]
    duplicated = {k: v for k, v in received.items() if v > 1}
    result = {"requests": len({e.split('.')[0] for e in expected}), "expected_mails": len(expected),
              "received_mails": sum(received.values()), "lost": len(lost),
              "duplicated": sum(v - 1 for v in duplicated.values()), "worker_kills": kills,
              "smtp_outage_s": args.outage_seconds, "outbox": outbox.counts(url),
              "seconds": round(time.monotonic() - began, 1)}
    db.get_engine.cache_clear()
    return result


def latency(args: argparse.Namespace) -> Dict[str, object]:
    from bot.evaluation.load import open_load, warm_up
    from bot.knowledge import store
    from bot.evaluation.metrics import percentile

    results: Dict[str, object] = {}
    for label, delay in (("smtp_fast", 0.0), ("smtp_slow", args.smtp_delay)) * args.repeat:
        tmp = Path(tempfile.mkdtemp(prefix="notify-load-"))
        smtp = SmtpServer(tmp)
        smtp.handler.delay = delay
        smtp.start()
        config = serve.StackConfig(
            model=serve.DEFAULT_MODEL, rasa_port=serve.free_port(), action_port=serve.free_port(),
            run_dir=tmp / "run", log_dir=tmp / "log",
            extra_env={"TRACKER_DB_URL": f"sqlite:///{tmp}/tracker.db",
                       "DATABASE_URL": f"sqlite:///{tmp}/clinic.db",
                       "RATE_LIMIT_ADDRESS_LIMIT": "0", "RATE_LIMIT_SENDER_LIMIT": "0",
                       "NOTIFY_POLL_SECONDS": "0.5", **smtp.env(),
                       "SMTP_TIMEOUT": str(delay + 10)})
        migrate(config.extra_env["DATABASE_URL"])
        store.sync_topics(store.load_topics_file(), config.extra_env["DATABASE_URL"])
        serve.start(config)
        try:
            warm_up(config.rest_url)
            booking_ms: List[float] = []
            done: List[str] = []

            async def bookings(config: serve.StackConfig = config, booking_ms: List[float] = booking_ms,
                               done: List[str] = done) -> None:
                import aiohttp

                async with aiohttp.ClientSession() as session:
                    end = time.monotonic() + args.seconds
                    while time.monotonic() < end:
                        who = f"book-{uuid.uuid4().hex[:8]}"
                        for text in ("/book_appointment", "Sam Okafor",
                                     f"s{uuid.uuid4().hex[:6]}@example.org", "weekday mornings",
                                     "/deny", "/affirm", "/affirm"):
                            began = time.perf_counter()
                            async with session.post(config.rest_url,
                                                    json={"sender": who, "message": text}) as reply:
                                body = await reply.json()
                            booking_ms.append((time.perf_counter() - began) * 1000)
                        if any((m.get("custom") or {}).get("step") == "submitted" for m in body):
                            done.append(who)

            async def both(url: str = config.rest_url):  # type: ignore[no-untyped-def]
                return await asyncio.gather(open_load(url, args.rate, args.seconds), bookings())

            load, _ = asyncio.run(both())
            mails = len(smtp.handler.received)
            run = {"p50_ms": round(load.p50_ms, 1), "p95_ms": round(load.p95_ms, 1),
                   "max_ms": round(load.max_ms, 1), "sent": load.sent, "errors": load.errors,
                   "booking_turn_p95_ms": round(percentile(booking_ms, 0.95), 1),
                   "bookings_stored": len(done), "mails_received_during_run": mails,
                   "smtp_delay_s": delay}
            print(label, json.dumps(run), flush=True)
            results.setdefault(label, []).append(run)  # type: ignore[union-attr]
        finally:
            serve.stop(config)
            smtp.stop()
            db.get_engine.cache_clear()
    return results


def store_cost(args: argparse.Namespace) -> Dict[str, object]:
    """The request path's own cost: save_booking with its outbox rows vs without them."""
    from bot.booking import store as booking_store
    from bot.evaluation.metrics import percentile

    results: Dict[str, object] = {}
    original = booking_store.notification_channels
    for label, channels in (("without_outbox", lambda request: []),
                            ("with_outbox", original)) * args.repeat:
        booking_store.notification_channels = channels  # type: ignore[assignment]
        tmp = Path(tempfile.mkdtemp(prefix="notify-store-"))
        url = f"sqlite:///{tmp / 'clinic.db'}"
        migrate(url)
        times: List[float] = []
        for index in range(args.requests):
            request = BookingRequest("Store Person", f"p{index}@example.org", "email", "any day")
            began = time.perf_counter()
            save_booking(request, uuid.uuid4().hex, url)
            times.append((time.perf_counter() - began) * 1000)
        run = {"p50_ms": round(percentile(times, 0.5), 2), "p95_ms": round(percentile(times, 0.95), 2)}
        print(label, json.dumps(run), flush=True)
        results.setdefault(label, []).append(run)  # type: ignore[union-attr]
        db.get_engine.cache_clear()
    booking_store.notification_channels = original  # type: ignore[assignment]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("outage", "latency", "store"))
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--outage-seconds", type=float, default=12.0)
    parser.add_argument("--wait", type=float, default=240.0)
    parser.add_argument("--smtp-delay", type=float, default=None)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if args.smtp_delay is None:
        args.smtp_delay = 0.05 if args.mode == "outage" else 5.0
    modes = {"outage": outage, "latency": latency, "store": store_cost}
    result = modes[args.mode](args)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
