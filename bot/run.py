"""``python -m bot.run rasa ...`` / ``python -m bot.run rasa_sdk ...``: a library's command
line with the project's quiet output (``bot.quiet``): known third-party warnings hidden,
no colour codes where the output is a file. Everything after the module name is passed on.

This is how the Rasa server is started (``python -m bot.run rasa run ...``): for ``rasa``,
the project's adaptations of Rasa (``bot.runtime``) are installed when the command serves
the assistant, with the action server wait from the REST channel's credentials.
"""

from __future__ import annotations

import runpy
import sys
from typing import List, Optional

from bot import quiet

ALLOWED = ("rasa", "rasa_sdk")


def _action_wait(credentials_file: Optional[str]) -> float:
    """Seconds Rasa waits for the action server, read when the server starts."""
    from bot.channels.rest import action_wait_from_file

    return action_wait_from_file(credentials_file)


def main(argv: Optional[List[str]] = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ALLOWED:
        raise SystemExit(f"use: python -m bot.run {{{'|'.join(ALLOWED)}}} ARGS...")
    quiet.quiet_servers()
    module = args[0]
    if module == "rasa":
        from bot.runtime import start

        start.register(_action_wait)
    sys.argv = [module, *args[1:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
