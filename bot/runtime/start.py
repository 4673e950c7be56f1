"""Run :func:`bot.runtime.install` when Rasa starts serving, through Rasa's plugin manager.

Rasa 3.6's command line (``rasa/__main__.py``) parses its arguments, sets up logging and
TensorFlow, then calls the ``configure_commandline`` hook of every plugin registered with
``rasa.plugin.plugin_manager()``, and only then runs the command. :func:`register` (called by
``python -m bot.run rasa ...``) adds one plugin, whose hook installs the runtime when the
command serves the assistant: ``rasa run`` and ``rasa shell``, not ``rasa run actions``,
``rasa train`` or the others.
"""

from __future__ import annotations

import logging
import os
from argparse import Namespace
from typing import Callable, FrozenSet, Optional, Tuple

import pluggy

logger = logging.getLogger(__name__)

PLUGIN_NAME = "clinic-runtime"
# (module, function) of the ``func`` Rasa's parser sets for the commands that serve.
SERVER_COMMANDS: FrozenSet[Tuple[str, str]] = frozenset(
    {("rasa.cli.run", "run"), ("rasa.cli.shell", "shell")}
)

hookimpl = pluggy.HookimplMarker("rasa")

# The action server wait for a credentials file (None: Rasa's default file is missing).
ActionWait = Callable[[Optional[str]], float]


def serves_the_assistant(cmdline_arguments: Namespace) -> bool:
    func = getattr(cmdline_arguments, "func", None)
    return (getattr(func, "__module__", None), getattr(func, "__name__", None)) in SERVER_COMMANDS


def credentials_file(cmdline_arguments: Namespace) -> Optional[str]:
    """The credentials file Rasa will read: ``--credentials``, else its default if present."""
    from rasa.shared.constants import DEFAULT_CREDENTIALS_PATH

    path = getattr(cmdline_arguments, "credentials", None) or DEFAULT_CREDENTIALS_PATH
    return str(path) if os.path.isfile(path) else None


class InstallAtServerStart:
    """The plugin: its ``configure_commandline`` hook installs the runtime for a server."""

    def __init__(self, action_wait: ActionWait) -> None:
        self.action_wait = action_wait

    @hookimpl  # type: ignore[misc]
    def configure_commandline(self, cmdline_arguments: Namespace) -> Optional[str]:
        if serves_the_assistant(cmdline_arguments):
            from bot.runtime import install

            install(self.action_wait(credentials_file(cmdline_arguments)))
        return None  # Rasa reads a plugin's answer as an endpoints file: none from us


def register(action_wait: ActionWait) -> bool:
    """Register the plugin with Rasa's plugin manager once; True if this call did it."""
    from rasa.plugin import plugin_manager

    manager = plugin_manager()
    if manager.has_plugin(PLUGIN_NAME):
        return False
    manager.register(InstallAtServerStart(action_wait), name=PLUGIN_NAME)
    return True
