"""Every adaptation of Rasa's internals, in one room, installed by one hook.

Rasa 3.6.21 (requirements.lock) is adapted here, and nowhere else:

* ``action_wait``: Rasa's ``DEFAULT_REQUEST_TIMEOUT`` (in ``rasa.utils.endpoints`` and
  ``rasa.core.actions.action``) and a wrapped ``EndpointConfig.request``: the reply comes
  within the turn when the action server hangs or is down (rasa#4073);
* ``action_validation``: ``RemoteAction._validate_action_result`` with a cached validator
  (it was 44% of the server's CPU per turn);
* ``tracker_store``: ``StrictSQLTrackerStore`` and ``rasa.core.agent.FailSafeTrackerStore``
  replaced: no silent fall-back to memory (rasa#3243);
* ``locks``: ``AtomicRedisLockStore``, one ticket lock across replicas (rasa#11256);
* ``hotswap``: ``rasa.core.agent.load_agent`` in a worker thread, so the live model keeps
  answering during ``PUT /model``;
* ``banner``: ``rasa.server.add_root_route`` without the version banner;
* ``graph_runner``: ``rasa.core.processor.DaskGraphRunner`` replaced by a runner that calls
  the prediction graph's nodes in a precomputed order (dask's scheduler was about a tenth
  of the server's CPU per turn);
* ``start``: the hook below, through Rasa's plugin manager.

The two stores are named in ``endpoints.yml`` (``bot/deploy/endpoints.py``), which is Rasa's
own way to use a custom store; the rest is installed by :func:`install`.

**The hook.** :func:`install` is called once, when Rasa starts serving the assistant:
``python -m bot.run rasa run ...`` (``bot/deploy/serve.py``, ``prod.py``, the Docker image
and the Kubernetes manifests all start Rasa that way) registers :mod:`bot.runtime.start`
with Rasa's plugin manager, and Rasa's command line calls it after parsing its arguments
and before it runs ``rasa run`` (or ``rasa shell``). Calling it again changes nothing.
Nothing is changed at import time.

``tests/unit/test_runtime.py`` checks each Rasa internal patched here against the pinned
version (that it exists, with the signature relied on) and that after :func:`install` the
behaviour is the adapted one, so an upgrade of Rasa shows at once which piece broke.
"""

from __future__ import annotations

import logging
from typing import List

logger = logging.getLogger(__name__)


def install(action_timeout: float) -> List[str]:
    """Adapt Rasa for serving the assistant; the names of the pieces this call installed.

    ``action_timeout``: seconds Rasa waits for the action server (the REST channel's
    ``action_timeout`` or ``ACTION_TIMEOUT``, ``bot.channels.rest.action_wait``); set again
    on every call, everything else is installed once.
    """
    from bot.runtime import (
        action_validation,
        action_wait,
        banner,
        graph_runner,
        hotswap,
        tracker_store,
    )

    steps = {
        "action_wait": lambda: action_wait.install(action_timeout),
        "action_validation": action_validation.install,
        "tracker_store": tracker_store.install,
        "hotswap": hotswap.install,
        "banner": banner.install,
        "graph_runner": graph_runner.install,
    }
    done = [name for name, step in steps.items() if step()]
    if done:
        logger.info("Rasa runtime adaptations installed: %s", ", ".join(done))
    return done
