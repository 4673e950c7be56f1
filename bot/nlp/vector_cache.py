"""A disk cache of sentence vectors, so retraining encodes only the examples that are new.

Vectors are keyed by the SHA-256 of the text and stored per encoder model id in one ``.npz``
file under ``var/cache/encoder/`` (mode 0600: training examples can hold what visitors typed,
once staff have labelled them). A cache file that cannot be read is ignored and rewritten: it
only ever costs time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_DIR = Path("var/cache/encoder")


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cached_vectors(
    texts: Sequence[str],
    encode: Callable[[Sequence[str]], np.ndarray],
    model_id: str,
    directory: Path = DEFAULT_DIR,
) -> np.ndarray:
    """The texts' vectors, encoding only those the cache lacks, and the cache updated."""
    path = Path(directory) / f"{model_id.replace('@', '-')}.npz"
    known: dict[str, np.ndarray] = {}
    if path.exists():
        try:
            with np.load(path) as stored:
                known = dict(zip(stored["keys"].tolist(), stored["vectors"]))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            logger.warning("encoder cache %s unreadable (%s): rebuilding it", path, error)
    keys = [text_key(t) for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts) if k not in known}.items())
    if missing:
        fresh = encode([t for _, t in missing])
        known.update({k: v for (k, _), v in zip(missing, fresh)})
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(known)), vectors=np.vstack(list(known.values())))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    logger.info("sentence vectors: %d cached, %d encoded", len(texts) - len(missing), len(missing))
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.vstack([known[k] for k in keys]).astype(np.float32)
