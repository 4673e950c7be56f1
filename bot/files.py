"""Owner-only files: what the assistant writes under ``var/`` no other local user can read.

``var/`` holds the conversations (``tracker.db`` with its ``-wal``/``-shm``), bookings and staff
password hashes (``clinic.db``), logs, keys and exports. Every process the project starts runs
with umask 077 (:func:`private_umask`; ``make`` sets it too), so what it creates is 0600 and
its folders 0700. Files made before that rule (or by a hand-run command) are tightened at
start-up (:func:`tighten`); the change is logged once, as one line, when it happens.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Iterable, List

logger = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
OTHERS = stat.S_IRWXG | stat.S_IRWXO


def private_umask() -> int:
    """Make every file this process (and its children) creates owner-only; the old mask."""
    return os.umask(PRIVATE_UMASK)


def _tighten_one(path: Path) -> bool:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(mode) or not mode & OTHERS:
        return False  # a link's target is tightened where it lives, if it is ours
    wanted = stat.S_IMODE(mode) & ~OTHERS
    if stat.S_ISDIR(mode):
        wanted |= stat.S_IRWXU
    try:
        path.chmod(wanted)
    except PermissionError:
        logger.warning("could not make %s owner-only (not its owner)", path)
        return False
    return True


def tighten(roots: Iterable[Path]) -> List[Path]:
    """Remove group and other permissions under each root (the root included); what changed."""
    changed: List[Path] = []
    for root in roots:
        if not root.exists():
            continue
        if _tighten_one(root):
            changed.append(root)
        if not root.is_dir() or root.is_symlink():
            continue
        for folder, dirs, names in os.walk(root):
            for name in [*dirs, *names]:
                path = Path(folder) / name
                if _tighten_one(path):
                    changed.append(path)
    return changed


def secure(var_dir: Path, *extra: Path) -> List[Path]:
    """Umask 077, ``var_dir`` created 0700, existing files under it (and ``extra``) tightened."""
    private_umask()
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    changed = tighten([var_dir, *extra])
    if changed:
        logger.warning(
            "made %d file(s) and folder(s) under %s owner-only (they were readable by other "
            "local users)", len(changed), var_dir,
        )
    return changed
