"""Latency of two checkouts of the assistant, measured in turns on the same machine.

    python scripts/latency_side_by_side.py /path/to/checkout-a /path/to/checkout-b \
        [--rounds 2] [--rates 20,25,30,35,40] [--seconds 20]

Each checkout must have its model trained (``models/current.tar.gz``). For each round and
each checkout, this starts that checkout's own servers (its ``bot.deploy.serve``, SQLite
tracker store, real action server), warms them up, sends open load over REST at each rate
(``bot.evaluation.load``) and reads the Rasa process's CPU time. Running the checkouts in
turns, round after round, puts both under the same background load: a busy machine slows
both, and the comparison stays fair. Results print as one table and go to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

# The child runs inside the checkout it measures, with that checkout's own code.
CHILD = r"""
import asyncio, json, os, sys, tempfile, time
from pathlib import Path
from bot.deploy import serve
from bot.evaluation.load import open_load, warm_up
from bot.knowledge import store

def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0

rates, seconds = [float(r) for r in sys.argv[1].split(",")], float(sys.argv[2])
with tempfile.TemporaryDirectory() as tmp:
    env = {"TRACKER_DB_URL": f"sqlite:///{tmp}/tracker.db",
           "DATABASE_URL": f"sqlite:///{tmp}/clinic.db", "RATE_LIMIT_ADDRESS_LIMIT": "0"}
    config = serve.StackConfig(model=Path("models/current.tar.gz"), rasa_port=serve.free_port(),
                               action_port=serve.free_port(), run_dir=Path(tmp) / "run",
                               log_dir=Path(tmp) / "log", extra_env=env)
    if hasattr(serve, "prepare_database"):  # checkouts whose stores no longer make tables
        serve.prepare_database(env)  # the migrations make them (serve.start repeats it: a no-op)
    store.sync_topics(store.load_topics_file(), env["DATABASE_URL"])
    began = time.monotonic()
    pids = serve.start(config)
    started = time.monotonic() - began
    runs = []
    try:
        warm_up(config.rest_url)
        for rate in rates:
            before = cpu(pids["rasa"])
            result = asyncio.run(open_load(config.rest_url, rate, seconds))
            runs.append(dict(vars(result), cpu_ms=(cpu(pids["rasa"]) - before) * 1000 / result.sent))
        memory = rss(pids["rasa"])
    finally:
        serve.stop(config)
print("RESULT " + json.dumps({"start_s": started, "rss_mb": memory, "runs": runs}))
"""


def measure(checkout: Path, rates: str, seconds: float) -> Dict[str, Any]:
    env_python = checkout / ".venv" / "bin" / "python"
    python = str(env_python if env_python.exists() else sys.executable)
    done = subprocess.run(
        [python, "-c", CHILD, rates, str(seconds)], cwd=checkout, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(checkout), "HOME": str(Path.home()),
             "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"})
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[len("RESULT "):]))
    raise SystemExit(f"{checkout}: no result\n{done.stderr[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkouts", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rates", default="20,25,30,35,40")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--out", type=Path, default=Path("var/latency_side_by_side.json"))
    args = parser.parse_args()
    results: List[Dict[str, Any]] = []
    for round_ in range(1, args.rounds + 1):
        for checkout in args.checkouts:
            result = measure(checkout.resolve(), args.rates, args.seconds)
            result.update(checkout=str(checkout), round=round_)
            results.append(result)
            print(f"round {round_}  {checkout}  start {result['start_s']:.1f} s  "
                  f"RSS {result['rss_mb']:.0f} MB", flush=True)
            for run in result["runs"]:
                print(f"    {run['rate']:5.1f} msg/s  p50 {run['p50_ms']:7.1f}  "
                      f"p95 {run['p95_ms']:7.1f} ms  errors {run['errors']:3d}  "
                      f"Rasa CPU {run['cpu_ms']:5.1f} ms/msg", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
