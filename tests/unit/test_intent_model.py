"""IntentModel: trained regression + nearest examples, saved and loaded unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.nlp.intent_model import IntentModel, train_intent_model

DIM = 384
LABELS = ("crisis", "greet", "probiotics")


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def centres() -> np.ndarray:
    return _unit(np.random.default_rng(0).normal(size=(len(LABELS), DIM)))


def _around(centre: np.ndarray, n: int, spread: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(size=(n, DIM)) * spread / np.sqrt(DIM)
    return _unit(centre + noise).astype(np.float32)


@pytest.fixture(scope="module")
def data(centres: np.ndarray) -> tuple[np.ndarray, list[str]]:
    vectors = np.vstack([_around(c, 12, 0.6, i) for i, c in enumerate(centres)])
    labels = [label for label in LABELS for _ in range(12)]
    return vectors, labels


@pytest.fixture(scope="module")
def model(data: tuple[np.ndarray, list[str]]) -> IntentModel:
    return train_intent_model(*data)


def test_labels_are_sorted_and_examples_kept(model: IntentModel, data: tuple) -> None:
    assert model.labels == LABELS
    assert model.examples.shape == (36, DIM)
    assert [model.labels[i] for i in model.example_labels] == data[1]


def test_probabilities_sum_to_one_and_pick_the_right_class(model: IntentModel, centres: np.ndarray) -> None:
    probe = np.vstack([_around(c, 5, 0.6, 100 + i) for i, c in enumerate(centres)])
    probs = model.probabilities(probe)
    assert probs.shape == (15, 3)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (probs >= 0).all()
    assert list(probs.argmax(axis=1)) == [i for i in range(3) for _ in range(5)]


def test_probabilities_of_extreme_vectors_do_not_overflow(model: IntentModel) -> None:
    probs = model.probabilities(np.full((1, DIM), 1e4, dtype=np.float32))
    assert np.isfinite(probs).all() and abs(float(probs.sum()) - 1.0) < 1e-5


def test_nearest_is_the_closest_example_of_each_label(model: IntentModel, data: tuple) -> None:
    vectors, labels = data
    near = model.nearest(vectors[:1])
    assert near[0, 0] == pytest.approx(1.0, abs=1e-5)  # the example itself
    for index, label in enumerate(LABELS):
        own = vectors[[i for i, lab in enumerate(labels) if lab == label]]
        assert near[0, index] == pytest.approx(float((own @ vectors[0]).max()), abs=1e-5)


def test_nearest_is_minus_one_for_a_label_without_examples() -> None:
    model = IntentModel(("a", "b"), np.zeros((2, 4), np.float32), np.zeros(2, np.float32),
                        np.eye(4, dtype=np.float32)[:2], np.array([0, 0], np.int32))
    assert model.nearest(np.eye(4, dtype=np.float32)[:1])[0].tolist() == [1.0, -1.0]


def test_margin_positive_inside_negative_outside(model: IntentModel, centres: np.ndarray) -> None:
    inside = _around(centres[0], 4, 0.6, 200)
    outside = np.vstack([_around(centres[1], 2, 0.6, 201), _around(centres[2], 2, 0.6, 202)])
    assert (model.margin(inside, "crisis") > 0).all()
    assert (model.margin(outside, "crisis") < 0).all()


def test_margin_of_an_unknown_label_is_minus_one(model: IntentModel, centres: np.ndarray) -> None:
    assert model.margin(centres[:2].astype(np.float32), "no_such_intent").tolist() == [-1.0, -1.0]
    assert model.margin(np.zeros((0, DIM), np.float32), "crisis").shape == (0,)


def test_save_and_load_round_trip(model: IntentModel, tmp_path: Path, centres: np.ndarray) -> None:
    model.save(tmp_path)
    loaded = IntentModel.load(tmp_path)
    probe = np.vstack([_around(c, 3, 0.6, 300 + i) for i, c in enumerate(centres)])
    assert loaded.labels == model.labels
    assert np.allclose(loaded.probabilities(probe), model.probabilities(probe), atol=1e-6)
    # Examples are stored as float16: the same within half precision.
    assert np.allclose(loaded.nearest(probe), model.nearest(probe), atol=2e-3)
    assert np.allclose(loaded.margin(probe, "crisis"), model.margin(probe, "crisis"), atol=2e-3)


def test_two_intents_give_two_rows(centres: np.ndarray) -> None:
    vectors = np.vstack([_around(centres[0], 6, 0.6, 1), _around(centres[1], 6, 0.6, 2)])
    model = train_intent_model(vectors, ["x"] * 6 + ["y"] * 6)
    probs = model.probabilities(np.vstack([centres[0], centres[1]]).astype(np.float32))
    assert probs.shape == (2, 2)
    assert probs[0, 0] > 0.5 and probs[1, 1] > 0.5


def test_one_intent_is_certain(centres: np.ndarray) -> None:
    model = train_intent_model(_around(centres[0], 3, 0.6, 1), ["only"] * 3)
    assert model.probabilities(centres[:2].astype(np.float32)).tolist() == [[1.0], [1.0]]
