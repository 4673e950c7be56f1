"""The training-vector cache: reused, only new texts encoded, private, and never fatal."""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

from bot.nlp import vector_cache

MODEL = "test-model@0123456789ab"


class CountingEncoder:
    """Deterministic vectors per text; remembers which texts it was asked to encode."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def vector(self, text: str) -> np.ndarray:
        rng = np.random.default_rng(int(vector_cache.text_key(text)[:8], 16))
        v = rng.normal(size=384).astype(np.float32)
        return v / np.linalg.norm(v)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.vstack([self.vector(t) for t in texts])


def _cache_file(directory: Path) -> Path:
    return directory / "test-model-0123456789ab.npz"


def test_second_run_encodes_nothing_and_returns_the_same_vectors(tmp_path: Path) -> None:
    texts = ["do probiotics help?", "book me in", "hello"]
    first_encoder, second_encoder = CountingEncoder(), CountingEncoder()
    first = vector_cache.cached_vectors(texts, first_encoder, MODEL, tmp_path)
    second = vector_cache.cached_vectors(texts, second_encoder, MODEL, tmp_path)
    assert sorted(first_encoder.calls[0]) == sorted(texts)
    assert second_encoder.calls == []
    assert np.array_equal(first, second)
    assert np.allclose(first, np.vstack([first_encoder.vector(t) for t in texts]))


def test_only_missing_texts_are_encoded_and_order_is_kept(tmp_path: Path) -> None:
    counting = CountingEncoder()
    vector_cache.cached_vectors(["a", "b"], counting, MODEL, tmp_path)
    texts = ["new one", "b", "a", "new two", "new one"]
    vectors = vector_cache.cached_vectors(texts, counting, MODEL, tmp_path)
    assert sorted(counting.calls[1]) == ["new one", "new two"]  # once each, old ones not again
    assert np.allclose(vectors, np.vstack([counting.vector(t) for t in texts]))
    # Everything seen so far is now cached.
    later = CountingEncoder()
    vector_cache.cached_vectors(["a", "b", "new one", "new two"], later, MODEL, tmp_path)
    assert later.calls == []


def test_cache_file_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "var" / "cache" / "encoder"
    vector_cache.cached_vectors(["my name is Jane and I feel low"], CountingEncoder(), MODEL, directory)
    path = _cache_file(directory)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(directory.glob("*.tmp*"))


def test_another_model_gets_its_own_cache(tmp_path: Path) -> None:
    vector_cache.cached_vectors(["a"], CountingEncoder(), MODEL, tmp_path)
    other = CountingEncoder()
    vector_cache.cached_vectors(["a"], other, "other-model@ffff", tmp_path)
    assert other.calls == [["a"]]


@pytest.mark.parametrize("content", [b"", b"garbage, not numpy", b"PK\x03\x04broken zip"])
def test_corrupt_cache_is_rebuilt_without_crashing(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = _cache_file(tmp_path)
    path.write_bytes(content)
    counting = CountingEncoder()
    with caplog.at_level(logging.WARNING):
        vectors = vector_cache.cached_vectors(["x", "y"], counting, MODEL, tmp_path)
    assert np.allclose(vectors, np.vstack([counting.vector(t) for t in ["x", "y"]]))
    assert "rebuilding" in caplog.text
    again = CountingEncoder()
    assert np.array_equal(vector_cache.cached_vectors(["x", "y"], again, MODEL, tmp_path), vectors)
    assert again.calls == []


def test_truncated_cache_is_rebuilt_without_crashing(tmp_path: Path) -> None:
    vector_cache.cached_vectors([f"text {i}" for i in range(50)], CountingEncoder(), MODEL, tmp_path)
    path = _cache_file(tmp_path)
    for size in (10, len(path.read_bytes()) // 2, len(path.read_bytes()) - 30):
        raw = path.read_bytes()
        path.write_bytes(raw[:size])
        counting = CountingEncoder()
        vectors = vector_cache.cached_vectors(["text 1", "text 2"], counting, MODEL, tmp_path)
        assert np.allclose(vectors, np.vstack([counting.vector(t) for t in ["text 1", "text 2"]]))
        vector_cache.cached_vectors([f"text {i}" for i in range(50)], CountingEncoder(), MODEL, tmp_path)


def test_cache_without_the_expected_arrays_is_rebuilt(tmp_path: Path) -> None:
    np.savez(_cache_file(tmp_path), something_else=np.zeros(3))
    counting = CountingEncoder()
    vectors = vector_cache.cached_vectors(["x"], counting, MODEL, tmp_path)
    assert counting.calls == [["x"]]
    assert vectors.shape == (1, 384)


def test_no_texts_gives_an_empty_matrix(tmp_path: Path) -> None:
    counting = CountingEncoder()
    assert vector_cache.cached_vectors([], counting, MODEL, tmp_path).shape == (0, 384)
    assert counting.calls == []
