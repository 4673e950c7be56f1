"""``python -m bot.evaluation``: the figures we tune by (see ``make eval``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

from bot.evaluation import metrics
from bot.evaluation.holdout import HOLDOUT_SETS, idiom_examples, unseen_holdout_examples
from bot.settings import PROJECT_ROOT

TOPIC_OF_INTENT = {"book_appointment": "booking"}


def _best_real_intent(parsed: Dict) -> Tuple[str, float]:
    """The classifier's top intent other than the fallback (and the scope gate's verdict)."""
    gate = parsed.get("scope_gate")
    if isinstance(gate, dict) and gate.get("intent"):
        # The gate put out_of_scope on top: what it overruled is the classifier's choice.
        ranking = [r for r in parsed.get("intent_ranking") or [] if r.get("name") == gate["intent"]]
        if ranking:
            return str(gate["intent"]), float(ranking[0].get("confidence") or 0.0)
    for item in parsed.get("intent_ranking") or [parsed.get("intent") or {}]:
        if item.get("name") and item["name"] != "nlu_fallback":
            return str(item["name"]), float(item.get("confidence") or 0.0)
    return "nlu_fallback", 0.0


def _gated(parsed: Dict) -> bool:
    """Whether the scope gate turned the message away (no or only weak evidence)."""
    # The gate records only intents it checks, never out_of_scope itself: if the message
    # ends up out of scope, the gate put it there.
    gate = parsed.get("scope_gate")
    return isinstance(gate, dict) and (parsed.get("intent") or {}).get("name") == "out_of_scope"


async def _predict(
    model: Path, texts: List[str]
) -> Tuple[List[str], List[Tuple[str, float]], List[bool], float]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    # Rasa's structured log prints every parsed text at debug level: keep the report readable.
    configure_structlog(logging.WARNING)
    agent = Agent.load(str(model))
    guesses, best, gated = [], [], []
    began = time.perf_counter()
    for text in texts:
        parsed = await agent.parse_message(text)
        guesses.append(str((parsed.get("intent") or {}).get("name")))
        best.append(_best_real_intent(parsed))
        gated.append(_gated(parsed))
    return guesses, best, gated, (time.perf_counter() - began) * 1000 / max(1, len(texts))


def _at_threshold(guess: str, best: Tuple[str, float], gated: bool, threshold: float) -> str:
    if guess == "crisis" or gated:  # the crisis guard and the scope gate do not move
        return guess
    return best[0] if best[1] >= threshold else "nlu_fallback"


def threshold_sweep(
    expected: List[str], guesses: List[str], best: List[Tuple[str, float]], gated: List[bool]
) -> None:
    """What other FallbackClassifier thresholds would give (ambiguity rule not applied)."""
    print("\nthreshold  topic-acc  oos-false-accepts  (to tune config.yml's FallbackClassifier)")
    for threshold in (0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7):
        pairs = [(e, metrics.normalise_prediction(e, _at_threshold(g, b, t, threshold)))
                 for e, g, b, t in zip(expected, guesses, best, gated)]
        topic = [(e, g) for e, g in pairs if e not in {"out_of_scope", "crisis"}]
        fa, total = metrics.out_of_scope_false_accepts(pairs)
        print(f"  {threshold:.2f}     {metrics.accuracy(topic):.3f}      {fa}/{total}")


def nlu_report(model: Path, holdout: Path) -> Dict[str, object]:
    examples, dropped = unseen_holdout_examples(holdout)
    idioms = idiom_examples()
    texts = [t for t, _ in examples] + [t for t, _ in idioms]
    guesses, best, gated, ms_per_parse = asyncio.run(_predict(model, texts))
    pairs = [(e, metrics.normalise_prediction(e, g))
             for (_, e), g in zip(examples, guesses[: len(examples)])]
    idiom_pairs = [(e, g) for (_, e), g in zip(idioms, guesses[len(examples):])]
    scores = metrics.per_label_scores(pairs)
    print(f"\nHeld-out set: {len(examples)} messages ({holdout.relative_to(PROJECT_ROOT)}); "
          f"{dropped} more are also in the training data and are not scored")
    print(f"{'topic':26s} {'prec':>6s} {'recall':>6s} {'f1':>6s} {'n':>4s}")
    for label, s in scores.items():
        topic = TOPIC_OF_INTENT.get(label, label)
        print(f"{topic:26s} {s.precision:6.2f} {s.recall:6.2f} {s.f1:6.2f} {s.support:4d}")
    topic_pairs = [(e, g) for e, g in pairs if e not in {"out_of_scope", "crisis"}]
    fa, oos_total = metrics.out_of_scope_false_accepts(pairs)
    hit, crisis_total = metrics.crisis_recall(pairs)
    fc, other_total = metrics.false_crisis(pairs + idiom_pairs)
    advice = [(e, g) for e, g in pairs if e == "personal_advice"]
    idiom_ok = sum(g != "crisis" for _, g in idiom_pairs)
    summary = {
        "overall_accuracy": metrics.accuracy(pairs),
        "topic_accuracy": metrics.accuracy(topic_pairs),
        "out_of_scope_false_accepts": fa / oos_total if oos_total else 0.0,
        "crisis_recall": hit / crisis_total if crisis_total else 0.0,
        "false_crisis_rate": fc / other_total if other_total else 0.0,
        "personal_advice_accuracy": metrics.accuracy(advice),
        "idioms_not_crisis": f"{idiom_ok}/{len(idiom_pairs)}",
        "nlu_ms_per_message": ms_per_parse,
    }
    print(f"\noverall accuracy            {summary['overall_accuracy']:.3f}")
    print(f"topic accuracy (in scope)   {summary['topic_accuracy']:.3f}")
    print(f"out-of-scope false accepts  {fa}/{oos_total} = {summary['out_of_scope_false_accepts']:.3f}")
    print(f"crisis recall               {hit}/{crisis_total} = {summary['crisis_recall']:.3f}")
    print(f"false crisis elsewhere      {fc}/{other_total} = {summary['false_crisis_rate']:.3f}")
    print(f"personal-advice accuracy    {summary['personal_advice_accuracy']:.3f}")
    print(f"idioms not taken as crisis  {summary['idioms_not_crisis']}")
    print(f"NLU parse time              {ms_per_parse:.1f} ms/message (in process)")
    expected = [e for _, e in examples]
    turned_away = Counter(e == "out_of_scope" for e, t in zip(expected, gated) if t)
    summary["scope_gate_out_of_scope"] = turned_away[True]
    summary["scope_gate_in_scope"] = turned_away[False]
    print(f"scope gate turned away      {turned_away[True]} out-of-scope, "
          f"{turned_away[False]} others (no or weak evidence for the classifier's intent)")
    n = len(examples)
    threshold_sweep(expected, guesses[:n], best[:n], gated[:n])
    mistakes = [(t, e, g) for (t, e), (_, g) in zip(examples, pairs) if e != g]
    return {"summary": summary, "mistakes": mistakes,
            "per_topic": {k: vars(v) for k, v in scores.items()}}


def rasa_images(model: Path, holdout: Path, out: Path) -> None:
    """Rasa's own confusion matrix and confidence histogram for one held-out set."""
    subprocess.run(
        [sys.executable, "-m", "rasa", "test", "nlu", "--model", str(model), "--nlu",
         str(holdout), "--out", str(out), "--quiet"],
        check=True, cwd=PROJECT_ROOT, env=dict(os.environ, RASA_TELEMETRY_ENABLED="false"),
    )


def latency_report(model: Path, rates: List[float], seconds: float) -> Dict[str, object]:
    from bot.deploy import serve
    from bot.evaluation.load import sweep, warm_up
    from bot.knowledge import store

    with tempfile.TemporaryDirectory() as tmp:
        config = serve.StackConfig(
            model=model, rasa_port=serve.free_port(), action_port=serve.free_port(),
            run_dir=Path(tmp) / "run", log_dir=Path(tmp) / "log",
            extra_env={"TRACKER_DB_URL": f"sqlite:///{tmp}/tracker.db",
                       "DATABASE_URL": f"sqlite:///{tmp}/clinic.db",
                       "RATE_LIMIT_ADDRESS_LIMIT": "0"},
        )
        store.sync_topics(store.load_topics_file(), config.extra_env["DATABASE_URL"])
        began = time.monotonic()
        serve.start(config)
        started = time.monotonic() - began
        print(f"\nServers ready in {started:.1f} s. Open load over REST, 50 conversations, "
              f"{seconds:.0f} s per rate (SQLite tracker store, custom actions):")
        try:
            warm_up(config.rest_url)
            results = sweep(config.rest_url, rates, seconds)
        finally:
            serve.stop(config)
    good = [r.rate for r in results if not r.errors and r.p95_ms <= 100]
    print(f"highest rate with p95 <= 100 ms: {max(good) if good else 'none'} msg/s")
    return {"start_seconds": started, "runs": [vars(r) for r in results],
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
    for name, holdout in HOLDOUT_SETS.items():
        print(f"\n=== {name} held-out set ===")
        report[f"nlu_{name}"] = nlu_report(args.model, holdout)
        if not args.skip_images:
            rasa_images(args.model, holdout, args.out / f"nlu-{name}")
            print(f"confusion matrix and histogram: {args.out / f'nlu-{name}'}")
    if not args.skip_load:
        rates = [float(r) for r in args.rates.split(",")]
        report["latency"] = latency_report(args.model, rates, args.seconds)
    (args.out / "summary.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"\nfull report: {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
