"""``python -m bot.run rasa ...`` / ``python -m bot.run rasa_sdk ...``: a library's command
line with the project's quiet output (``bot.quiet``): known third-party warnings hidden,
no colour codes where the output is a file. Everything after the module name is passed on.
"""

from __future__ import annotations

import runpy
import sys
from typing import List, Optional

from bot import quiet

ALLOWED = ("rasa", "rasa_sdk")


def main(argv: Optional[List[str]] = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ALLOWED:
        raise SystemExit(f"use: python -m bot.run {{{'|'.join(ALLOWED)}}} ARGS...")
    quiet.quiet_servers()
    module = args[0]
    sys.argv = [module, *args[1:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
