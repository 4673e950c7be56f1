"""Open-load latency over REST: messages sent on schedule across many conversations.

Requests leave at fixed times whatever the server's speed (open load), so queueing shows
up in the latency, as it would with a site's real traffic.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import List, Sequence

import aiohttp

from bot.evaluation.metrics import percentile

# A realistic mix: article questions, small talk, an out-of-scope question.
DEFAULT_MESSAGES = (
    "hi",
    "what is the gut brain axis",
    "do gut bacteria make serotonin?",
    "is my IBS connected to my anxiety",
    "what's butyrate",
    "which probiotic strains were studied",
    "does stress damage the gut",
    "can changing my diet change my gut bacteria",
    "what is leaky gut",
    "do probiotics actually work for depression",
    "what's the weather tomorrow",
    "thanks",
)


@dataclass
class LoadResult:
    rate: float
    sent: int
    errors: int
    p50_ms: float
    p95_ms: float
    max_ms: float

    def line(self) -> str:
        return (f"{self.rate:6.1f} msg/s  sent {self.sent:5d}  errors {self.errors:3d}  "
                f"p50 {self.p50_ms:7.1f} ms  p95 {self.p95_ms:7.1f} ms  max {self.max_ms:7.1f} ms")


async def _one(session: aiohttp.ClientSession, url: str, sender: str, text: str,
               latencies: List[float], errors: List[int]) -> None:
    began = time.perf_counter()
    try:
        async with session.post(url, json={"sender": sender, "message": text}) as reply:
            body = await reply.json()
            if reply.status != 200 or not body:
                errors.append(1)
                return
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        errors.append(1)
        return
    latencies.append((time.perf_counter() - began) * 1000)


async def open_load(url: str, rate: float, seconds: float, conversations: int = 50,
                    messages: Sequence[str] = DEFAULT_MESSAGES, tag: str = "load") -> LoadResult:
    total = int(rate * seconds)
    latencies: List[float] = []
    errors: List[int] = []
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        start = time.perf_counter()
        tasks = []
        for index in range(total):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            conversation = index % conversations
            text = messages[(index // conversations + conversation) % len(messages)]
            tasks.append(asyncio.ensure_future(
                _one(session, url, f"{tag}-{rate:g}-{conversation}", text, latencies, errors)))
        await asyncio.gather(*tasks)
    return LoadResult(rate, total, len(errors), percentile(latencies, 0.5),
                      percentile(latencies, 0.95), max(latencies) if latencies else float("nan"))


def warm_up(url: str, longest_words: int = 60) -> None:
    """Send messages of every length once, untimed.

    TensorFlow traces the classifier again for each new message length it sees; a server
    that has run for a while has seen them all, so they are not what we measure.
    """
    words = "gut bacteria stress mood fibre probiotics anxiety sleep".split()
    texts = [" ".join(words[i % len(words)] for i in range(n)) for n in range(1, longest_words)]
    texts += list(DEFAULT_MESSAGES)
    asyncio.run(open_load(url, rate=20, seconds=len(texts) / 20, messages=texts, tag="warmup"))


def sweep(url: str, rates: Sequence[float], seconds: float, p95_limit_ms: float = 100.0
          ) -> List[LoadResult]:
    """Run rising rates; stop at the first that breaks the p95 limit or errors twice running.

    A rate that fails once is run again: one stall (a garbage collection, another process on
    the machine) should not end the sweep. Both runs are reported.
    """
    results = []
    for rate in rates:
        for attempt in (1, 2):
            result = asyncio.run(open_load(url, rate, seconds))
            results.append(result)
            print("  " + result.line() + ("  (second run)" if attempt == 2 else ""), flush=True)
            if not (result.errors or result.p95_ms > p95_limit_ms):
                break
        else:
            break
    return results
