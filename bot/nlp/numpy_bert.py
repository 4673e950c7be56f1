"""all-MiniLM-L6-v2's shape, and its BERT forward pass in plain NumPy (the reference).

The served encoder runs the same computation as an ONNX graph (:mod:`bot.nlp.onnx_bert`),
about four times faster here. This module is the readable statement of what that graph must
compute, and the tests compare the two. Its output was checked against transformers 4.36.2's
``TFBertModel`` on the same safetensors: largest difference 2.5e-7 (README).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from scipy.special import erf

DIMENSION = 384
LAYERS = 6
HEADS = 12
LAYER_NORM_EPS = 1e-12


class MissingTensorError(KeyError):
    """The weights file lacks a tensor of BERT's."""


def tensor(weights: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """A named tensor, with or without the ``bert.`` prefix some exports use."""
    for key in (name, f"bert.{name}"):
        if key in weights:
            return np.asarray(weights[key])
    raise MissingTensorError(f"the weights file has no tensor {name}")


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LAYER_NORM_EPS) * weight + bias


def _softmax(x: np.ndarray) -> np.ndarray:
    x = np.exp(x - x.max(axis=-1, keepdims=True))
    return x / x.sum(axis=-1, keepdims=True)


def forward(weights: Mapping[str, np.ndarray], tokens: Sequence[int]) -> np.ndarray:
    """Mean-pooled last hidden state of one id list (with ``[CLS]`` and ``[SEP]``)."""
    def t(name: str) -> np.ndarray:
        return tensor(weights, name).astype(np.float32)

    def dense(x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ t(prefix + ".weight").T + t(prefix + ".bias")

    n, head = len(tokens), DIMENSION // HEADS
    x = (t("embeddings.word_embeddings.weight")[list(tokens)]
         + t("embeddings.position_embeddings.weight")[:n]
         + t("embeddings.token_type_embeddings.weight")[0])
    x = _layer_norm(x, t("embeddings.LayerNorm.weight"), t("embeddings.LayerNorm.bias"))
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        q, k, v = (dense(x, p + "attention.self." + name).reshape(n, HEADS, head).transpose(1, 0, 2)
                   for name in ("query", "key", "value"))
        attention = _softmax(q @ k.transpose(0, 2, 1) / np.sqrt(head))
        context = (attention @ v).transpose(1, 0, 2).reshape(n, DIMENSION)
        x = _layer_norm(dense(context, p + "attention.output.dense") + x,
                        t(p + "attention.output.LayerNorm.weight"), t(p + "attention.output.LayerNorm.bias"))
        hidden = dense(x, p + "intermediate.dense")
        hidden = 0.5 * hidden * (1.0 + erf(hidden / np.sqrt(2.0)))
        x = _layer_norm(dense(hidden, p + "output.dense") + x,
                        t(p + "output.LayerNorm.weight"), t(p + "output.LayerNorm.bias"))
    return x.mean(axis=0)
