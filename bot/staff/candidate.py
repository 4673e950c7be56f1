"""A candidate model built and scored in ONE child process (``python -m bot.staff.candidate``).

A retrain used to start four processes that each imported Rasa (10-20 s apiece on the 2-core
machine): ``rasa data validate``, ``rasa train --skip-validation`` and one held-out evaluation
per model. This child imports Rasa once and runs, in order:

1. ``rasa data validate`` (Rasa's own command line, in this process); the data are checked
   once, so the training that follows skips Rasa's second pass, as before;
2. ``rasa train --skip-validation`` (the same command line), into ``--out``;
3. the held-out predictions of the candidate and, when asked (``--live``), of the live model,
   with the sentence encoder loaded once for both. While the training runs, a thread encodes
   each held-out text exactly as a parse would (one text at a time), so the predictions find
   the vectors ready; the encoder is thread-safe and the vectors are the same.

Each stage writes its own log (``validate-``, ``train-``, ``eval-<model>.log`` in
``--log-dir``). The parent (:func:`build`) reads one JSON event per line on the child's
standard output. The child holds the models only while it runs: the staff CLI and web page
never keep them in memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Sequence

from bot.settings import PROJECT_ROOT
from bot.staff.evaluate import Evaluation, holdout_texts

VALIDATION, TRAINING, EVALUATION = "validation", "training", "evaluation"
OnStage = Callable[[str], None]


@dataclass
class CandidateRun:
    """What the child did: each stage's outcome, its log and its seconds."""

    validated: bool = False
    validation_log: Optional[Path] = None
    model: Optional[Path] = None
    training_log: Optional[Path] = None
    candidate: Optional[Evaluation] = None
    live: Optional[Evaluation] = None
    failed_stage: str = ""
    failure_log: Optional[Path] = None
    timings: Dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------- the parent side

def _env() -> Dict[str, str]:
    # Allowed read of os.environ (tests/unit/test_settings.py): the child process's environment.
    return dict(os.environ, RASA_TELEMETRY_ENABLED="false", SQLALCHEMY_SILENCE_UBER_WARNING="1",
                PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])))


def build(*, python: str, cwd: Path, domain: Path, data: Path, config: Path, out: Path, name: str,
          holdout: Path, log_dir: Path, live: Optional[Path] = None,
          on_stage: Optional[OnStage] = None) -> CandidateRun:
    """Validate, train and evaluate ``name`` in one child process (``cwd``: the project, for
    the model's relative paths). ``live``: also evaluate that model. ``on_stage`` hears the
    name of each stage as it starts."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    command = [python, "-m", "bot.staff.candidate", "--domain", str(domain), "--data", str(data),
               "--config", str(config), "--out", str(out), "--name", name, "--holdout", str(holdout),
               "--log-dir", str(log_dir)]
    if live is not None:
        command += ["--live", str(live)]
    run = CandidateRun()
    crash_log = log_dir / f"candidate-{name}.log"
    with crash_log.open("w", encoding="utf-8") as crash:
        # a stage's time is measured here, from its start (the validation's: from the child's
        # start, its import of Rasa included) to its outcome
        started = {VALIDATION: time.monotonic()}
        child = subprocess.Popen(command, cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                                 stderr=crash, text=True)
        assert child.stdout is not None
        for line in child.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            stage = str(event.get("stage") or "")
            if event.get("started"):
                started.setdefault(stage, time.monotonic())
            elif "ok" in event:
                run.timings[stage] = time.monotonic() - started.get(stage, time.monotonic())
            _apply(run, event, on_stage)
        child.stdout.close()
    if run.failed_stage or run.candidate is not None:
        # the outcome is known: the child ends (Rasa's clean-up, ~1-2 s) while the retrain goes on
        threading.Thread(target=child.wait, name="candidate-exit", daemon=True).start()
    else:  # it ended without an outcome (killed, or it crashed): its standard error says why
        child.wait()
        run.failed_stage, run.failure_log = "child", crash_log
    return run


def _apply(run: CandidateRun, event: Dict[str, Any], on_stage: Optional[OnStage]) -> None:
    stage, log = str(event.get("stage") or ""), Path(event["log"]) if event.get("log") else None
    if event.get("started") and on_stage is not None:
        on_stage(stage)
    if event.get("ok") is False:
        run.failed_stage, run.failure_log = stage, log
    if stage == VALIDATION and "ok" in event:
        run.validated, run.validation_log = bool(event["ok"]), log
    elif stage == TRAINING and event.get("ok"):
        run.model, run.training_log = Path(event["model"]), log
    elif stage == EVALUATION and event.get("ok"):
        evaluation = Evaluation.from_dict(event["evaluation"])
        if event.get("role") == "live":
            run.live = evaluation
        else:
            run.candidate = evaluation


# --------------------------------------------------------------------- the child side

class _Events:
    """JSON lines to the parent on the standard output this process started with."""

    def __init__(self) -> None:
        self._out: IO[str] = os.fdopen(os.dup(1), "w", encoding="utf-8")

    def send(self, **event: Any) -> None:
        self._out.write(json.dumps(event) + "\n")
        self._out.flush()

    def close(self) -> None:
        """The last event is sent: the parent reads the end of the stream now, not when this
        process has finished exiting (what is still printed goes to the standard error)."""
        sys.stdout.flush()
        self._out.close()
        os.dup2(2, 1)


@contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """Everything written to fd 1 and 2 (Rasa, its logging, native libraries) goes to ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("w", encoding="utf-8") as handle:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _rasa(argv: List[str]) -> int:
    """Rasa's command line in this process, as ``python -m rasa ARGS``; its exit status."""
    import traceback

    import rasa.__main__ as rasa_main

    sys.argv = ["rasa", *argv]
    try:
        rasa_main.main()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except Exception:  # noqa: BLE001 (reported as a failed stage, with its traceback in the log)
        traceback.print_exc()
        return 1
    return 0


def _warm_encoder(texts: Sequence[str]) -> threading.Thread:
    """Encode each text in a thread, one at a time as the featurizer does for a parse."""
    from bot.nlp.encoder import shared_encoder

    def work() -> None:
        encoder = shared_encoder()
        for text in texts:
            encoder.encode([text])

    thread = threading.Thread(target=work, name="encoder-warm-up", daemon=True)
    thread.start()
    return thread


def _evaluate(events: _Events, role: str, model: Path, holdout: Path, log: Path) -> bool:
    from bot.evaluation.predict import Parser
    from bot.staff.evaluate import evaluate

    try:
        with _output_to(log):
            evaluation = evaluate(Parser(str(model)), model.name, holdout)
            hit, total = evaluation.crisis
            print(f"{model.name}: accuracy {evaluation.accuracy:.3f}, crisis {hit}/{total}")
    except Exception as error:  # noqa: BLE001 (the parent refuses the model and names the log)
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"\n{type(error).__name__}: {error}\n")
        events.send(stage=EVALUATION, role=role, ok=False, log=str(log))
        return False
    events.send(stage=EVALUATION, role=role, ok=True, log=str(log), evaluation=evaluation.as_dict())
    return True


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    for option in ("--domain", "--data", "--config", "--out", "--holdout", "--log-dir"):
        parser.add_argument(option, type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--live", type=Path, help="also evaluate this (live) model")
    args = parser.parse_args(argv)
    from bot import quiet

    events = _Events()
    quiet.quiet_servers()
    files = ["--domain", str(args.domain), "--data", str(args.data), "--config", str(args.config)]

    events.send(stage=VALIDATION, started=True)
    log = args.log_dir / f"validate-{args.name}.log"
    with _output_to(log):
        status = _rasa(["data", "validate", *files])
    events.send(stage=VALIDATION, ok=status == 0, log=str(log))
    if status != 0:
        return 0

    examples, idioms = holdout_texts(args.holdout)
    warm_up = _warm_encoder([t for t, _ in examples] + [t for t, _ in idioms])
    events.send(stage=TRAINING, started=True)
    log = args.log_dir / f"train-{args.name}.log"
    with _output_to(log):
        # the data were validated just above: Rasa's own second pass would only cost time
        status = _rasa(["train", *files, "--out", str(args.out), "--fixed-model-name", args.name,
                        "--quiet", "--skip-validation"])
    model = args.out / f"{args.name}.tar.gz"
    events.send(stage=TRAINING, ok=status == 0 and model.exists(), log=str(log), model=str(model))
    if status != 0 or not model.exists():
        return 0

    events.send(stage=EVALUATION, started=True)
    warm_up.join()
    if args.live is not None:
        live_log = args.log_dir / f"eval-{args.live.name.removesuffix('.tar.gz')}.log"
        if not _evaluate(events, "live", args.live, args.holdout, live_log):
            return 0
    _evaluate(events, "candidate", model, args.holdout, args.log_dir / f"eval-{args.name}.log")
    events.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
