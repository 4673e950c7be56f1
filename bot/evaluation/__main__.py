"""``python -m bot.evaluation``: the figures we tune by (see ``make eval``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bot.evaluation import metrics
from bot.evaluation.holdout import (
    CLINIC_SET,
    FOLLOW_UPS_DEV_PATH,
    FOLLOW_UP_SETS,
    FOLLOW_UPS_PATH,
    HOLDOUT_SETS,
    IDIOM_SETS,
    NAMES_PATH,
    NAMES_SETS,
    idiom_examples,
    read_follow_ups,
    read_names,
    unseen_holdout_examples,
)
from bot.evaluation.predict import Parser, intent_of
from bot.settings import PROJECT_ROOT

# Intents whose replies carry another topic id (the reply contract's `topic`).
TOPIC_OF_INTENT = {"book_appointment": "booking", "request_callback": "contact_human"}


def _topic(intent: str) -> str:
    return TOPIC_OF_INTENT.get(intent, intent)


def _weak(parsed: Dict) -> bool:
    """Whether the message got the one-line safety notice (weak signs of risk)."""
    guard = parsed.get("crisis_guard") or {}
    return isinstance(guard, dict) and bool(guard.get("weak"))


def _far(parsed: Dict) -> bool:
    """Whether the message was turned away for being far from every intent's examples."""
    return (intent_of(parsed) == "out_of_scope"
            and (parsed.get("intent_ranking") or [{}])[0].get("name") != "out_of_scope")


def crisis_lines(pairs: List[Tuple[str, str]], weak: int, others: int) -> Dict[str, object]:
    hit, crisis_total = metrics.crisis_recall(pairs)
    fc, other_total = metrics.false_crisis(pairs)
    print(f"crisis recall               {hit}/{crisis_total}")
    print(f"false crisis                {fc}/{other_total}")
    print(f"safety line, not a crisis   {weak}/{others} (weak signs of risk: one line, then the reply)")
    return {"crisis_recall": hit / crisis_total if crisis_total else None,
            "crisis": f"{hit}/{crisis_total}", "false_crisis": f"{fc}/{other_total}",
            "safety_line_not_crisis": f"{weak}/{others}"}


def nlu_report(parser: Parser, holdout: Path, idioms_path: Optional[Path]) -> Dict[str, object]:
    examples, dropped = unseen_holdout_examples(holdout)
    idioms = idiom_examples(idioms_path) if idioms_path else []
    texts = [t for t, _ in examples] + [t for t, _ in idioms]
    predictions = asyncio.run(parser.parse_all(texts))
    parses, ms_per_parse, guesses = predictions.parses, predictions.ms_per_message, predictions.intents
    pairs = [(_topic(e), _topic(metrics.normalise_prediction(e, g)))
             for (_, e), g in zip(examples, guesses[: len(examples)])]
    idiom_pairs = [(e, metrics.normalise_prediction(e, g))
                   for (_, e), g in zip(idioms, guesses[len(examples):])]
    scores = metrics.per_label_scores(pairs)
    print(f"\nHeld-out set: {len(examples)} messages ({holdout.relative_to(PROJECT_ROOT)}); "
          f"{dropped} more are also in the training data and are not scored")
    print(f"{'topic':26s} {'prec':>6s} {'recall':>6s} {'f1':>6s} {'n':>4s}")
    for label, sc in scores.items():
        print(f"{label:26s} {sc.precision:6.2f} {sc.recall:6.2f} {sc.f1:6.2f} {sc.support:4d}")
    topic_pairs = [(e, g) for e, g in pairs if e not in {"out_of_scope", "crisis"}]
    fa, oos_total = metrics.out_of_scope_false_accepts(pairs)
    advice = [(e, g) for e, g in pairs if e == "personal_advice"]
    far = sum(_far(p) and e != "out_of_scope"
              for p, (_, e) in zip(parses[: len(examples)], examples))
    summary: Dict[str, object] = {
        "overall_accuracy": metrics.accuracy(pairs),
        "topic_accuracy": metrics.accuracy(topic_pairs),
        "out_of_scope_false_accepts": fa / oos_total if oos_total else 0.0,
        "personal_advice_accuracy": metrics.accuracy(advice),
        "nlu_ms_per_message": ms_per_parse,
    }
    print(f"\noverall accuracy            {summary['overall_accuracy']:.3f}")
    print(f"topic accuracy (in scope)   {summary['topic_accuracy']:.3f}")
    print(f"out-of-scope false accepts  {fa}/{oos_total} = {summary['out_of_scope_false_accepts']:.3f}")
    print(f"in scope, turned away as far from every intent: {far}")
    weak = sum(_weak(p) for p, (_, e) in zip(parses, examples + idioms) if e != "crisis")
    others = sum(e != "crisis" for _, e in examples + idioms)
    summary.update(crisis_lines(pairs + idiom_pairs, weak, others))
    print(f"personal-advice accuracy    {summary['personal_advice_accuracy']:.3f}")
    if idioms:
        idiom_ok = sum(g != "crisis" for _, g in idiom_pairs)
        summary["idioms_not_crisis"] = f"{idiom_ok}/{len(idiom_pairs)}"
        summary["idiom_accuracy"] = metrics.accuracy(idiom_pairs)
        print(f"idioms not taken as crisis  {idiom_ok}/{len(idiom_pairs)} "
              f"(right intent {summary['idiom_accuracy']:.3f})")
    print(f"NLU parse time              {ms_per_parse:.1f} ms/message (in process)")
    mistakes = [(t, e, g) for (t, e), (_, g) in zip(examples, pairs) if e != g]
    return {"summary": summary, "mistakes": mistakes,
            "per_topic": {k: vars(v) for k, v in scores.items()}}


def names_report(parser: Parser, path: Path = NAMES_PATH, label: str = "fifth set"
                 ) -> Dict[str, object]:
    """Names typed when the booking form asks for one: never a crisis, never a safety line."""
    names = read_names(path)
    if not names:
        return {}

    async def run() -> List[Dict]:
        return [await parser.parse(n, requested_slot="booking_name") for n in names]

    parses = asyncio.run(run())
    cold = asyncio.run(parser.parse_all(names)).parses
    crisis = sum(intent_of(p) == "crisis" for p in parses)
    weak = sum(_weak(p) for p in parses)
    cold_crisis = sum(intent_of(p) == "crisis" for p in cold)
    print(f"\n=== names typed into the booking form, {label} ({len(names)}) ===")
    print(f"taken as crisis in the form {crisis}/{len(names)}, safety line {weak}/{len(names)}; "
          f"typed outside any form: crisis {cold_crisis}/{len(names)}")
    return {"names": len(names), "crisis_in_form": crisis, "safety_line_in_form": weak,
            "crisis_outside_form": cold_crisis}


def follow_up_report(parser: Parser, path: Path = FOLLOW_UPS_PATH,
                     label: str = "fifth set") -> Dict[str, object]:
    """Two-turn conversations: the second message is answered against the first."""
    items = read_follow_ups(path)
    if not items:
        return {}

    async def run() -> List[Tuple[str, str]]:
        results = []
        for item in items:
            first = await parser.parse(str(item["first"]))
            second = await parser.parse(str(item["followup"]), previous=(str(item["first"]), first))
            results.append((str(item["intent"]), intent_of(second)))
        return results

    pairs = asyncio.run(run())
    right = sum(e == g for e, g in pairs)
    print(f"\n=== follow-ups in context, {label} ({len(pairs)} two-turn conversations) ===")
    print(f"answered with the right topic {right}/{len(pairs)} = {right / len(pairs):.3f}")
    return {"follow_ups": f"{right}/{len(pairs)}", "follow_up_accuracy": right / len(pairs)}


def crisis_in_context_report(parser: Parser, first_turns: int = 10,
                             max_words: int = 8) -> Dict[str, object]:
    """Short crisis messages of every held-out set, each sent right after a topic question.

    A short message after a question may be read as its follow-up; this says whether the
    crisis still gets the crisis reply there (the first turns: the team's follow-up set's).
    """
    firsts = [str(item["first"]) for item in read_follow_ups(FOLLOW_UPS_DEV_PATH)][:first_turns]
    texts = sorted({text for path in HOLDOUT_SETS.values() if path.exists()
                    for text, intent in unseen_holdout_examples(path)[0]
                    if intent == "crisis" and len(text.split()) <= max_words})
    if not firsts or not texts:
        return {}

    async def run() -> Tuple[int, int]:
        previous = [(first, await parser.parse(first)) for first in firsts]
        alone = sum([intent_of(await parser.parse(text)) == "crisis" for text in texts])
        after = sum([intent_of(await parser.parse(text, previous=turn)) == "crisis"
                     for text in texts for turn in previous])
        return alone, after

    alone, after = asyncio.run(run())
    total = len(texts) * len(firsts)
    print(f"\n=== short crisis messages after a topic question ({len(texts)} x {len(firsts)}) ===")
    print(f"crisis reply alone {alone}/{len(texts)}, after a topic question {after}/{total}")
    return {"alone": f"{alone}/{len(texts)}", "after_a_question": f"{after}/{total}"}


def rasa_images(model: Path, holdout: Path, out: Path) -> None:
    """Rasa's own confusion matrix and confidence histogram for one held-out set."""
    # Allowed read of os.environ (tests/unit/test_settings.py): the child process's environment.
    subprocess.run(
        [sys.executable, "-m", "rasa", "test", "nlu", "--model", str(model), "--nlu",
         str(holdout), "--out", str(out), "--quiet"],
        check=True, cwd=PROJECT_ROOT, env=dict(os.environ, RASA_TELEMETRY_ENABLED="false"),
    )


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def latency_report(model: Path, rates: List[float], seconds: float) -> Dict[str, object]:
    from bot.deploy import serve
    from bot.evaluation.load import sweep, warm_up
    from bot.knowledge import store
    from bot.migrations import migrate

    with tempfile.TemporaryDirectory() as tmp:
        config = serve.StackConfig(
            model=model, rasa_port=serve.free_port(), action_port=serve.free_port(),
            run_dir=Path(tmp) / "run", log_dir=Path(tmp) / "log",
            extra_env={"TRACKER_DB_URL": f"sqlite:///{tmp}/tracker.db",
                       "DATABASE_URL": f"sqlite:///{tmp}/clinic.db",
                       "RATE_LIMIT_ADDRESS_LIMIT": "0"},
        )
        migrate(config.extra_env["DATABASE_URL"])
        store.sync_topics(store.load_topics_file(), config.extra_env["DATABASE_URL"])
        began = time.monotonic()
        pids = serve.start(config)
        started = time.monotonic() - began
        print(f"\nServers ready in {started:.1f} s. Open load over REST, 50 conversations, "
              f"{seconds:.0f} s per rate (SQLite tracker store, custom actions):")
        try:
            warm_up(config.rest_url)
            cpu_before = process_cpu_seconds(pids["rasa"])
            results = sweep(config.rest_url, rates, seconds)
            cpu = process_cpu_seconds(pids["rasa"]) - cpu_before
            rss = process_rss_mb(pids["rasa"])
        finally:
            serve.stop(config)
    sent = sum(r.sent for r in results)
    cpu_ms = cpu * 1000 / max(1, sent)
    print(f"Rasa process: {cpu_ms:.1f} ms CPU per message, {rss:.0f} MB resident after the runs")
    good = [r.rate for r in results if not r.errors and r.p95_ms <= 100]
    print(f"highest rate with p95 <= 100 ms: {max(good) if good else 'none'} msg/s")
    return {"start_seconds": started, "runs": [vars(r) for r in results],
            "rasa_cpu_ms_per_message": cpu_ms, "rasa_rss_mb": rss,
            "highest_rate_p95_under_100ms": max(good) if good else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "current.tar.gz")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results")
    parser.add_argument("--rates", default="10,20,30,35,40,44,48,52,56")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-images", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report: Dict[str, object] = {}
    parser_ = Parser(str(args.model))
    sets = {**HOLDOUT_SETS, "clinic": CLINIC_SET}
    for name, holdout in sets.items():
        if not holdout.exists():
            print(f"\n=== {name} held-out set: {holdout} not found, skipped ===")
            continue
        print(f"\n=== {name} held-out set ===")
        report[f"nlu_{name}"] = nlu_report(parser_, holdout, IDIOM_SETS.get(name))
        if not args.skip_images:
            rasa_images(args.model, holdout, args.out / f"nlu-{name}")
            print(f"confusion matrix and histogram: {args.out / f'nlu-{name}'}")
    for name, path in NAMES_SETS.items():
        report[f"names_{name}"] = names_report(parser_, path, f"{name} set")
    report["follow_ups_dev"] = follow_up_report(parser_, FOLLOW_UPS_DEV_PATH, "team's tuning set")
    for name, path in FOLLOW_UP_SETS.items():
        report[f"follow_ups_{name}"] = follow_up_report(parser_, path, f"{name} set")
    report["crisis_in_context"] = crisis_in_context_report(parser_)
    if not args.skip_load:
        rates = [float(r) for r in args.rates.split(",")]
        report["latency"] = latency_report(args.model, rates, args.seconds)
    (args.out / "summary.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"\nfull report: {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
