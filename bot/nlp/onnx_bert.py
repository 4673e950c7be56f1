"""The encoder's BERT forward pass as an ONNX graph, built in memory from the verified weights.

NumPy's small matrix products run at about a quarter of what onnxruntime's kernels reach on
this CPU (README, "The sentence encoder"), so the graph is written here with ``onnx.helper``,
op by op, from the same safetensors weights, and run by onnxruntime on one thread. Nothing is
written to disk and no converter is needed. The graph takes a batch of padded ids and their
attention mask and returns the mean-pooled last hidden state (sentence-transformers'
pooling); ``bot.nlp.encoder`` normalises it. ``tests/unit/test_encoder.py`` checks it against
the plain NumPy forward pass of :mod:`bot.nlp.numpy_bert`.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from bot.nlp import numpy_bert as spec

OPSET = 17  # LayerNormalization is an ONNX op from opset 17


def build_model(weights: Mapping[str, np.ndarray]) -> bytes:
    """The serialised ONNX model for these BERT weights."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list = []
    inits: list = []
    counter = [0]

    def const(array: np.ndarray, name: str | None = None) -> str:
        counter[0] += 1
        name = name or f"c{counter[0]}"
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(kind: str, inputs: list[str], **attrs: Any) -> str:
        counter[0] += 1
        out = f"t{counter[0]}"
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def w(name: str) -> str:
        return const(spec.tensor(weights, name).astype(np.float32))

    def dense(x: str, prefix: str) -> str:
        kernel = const(spec.tensor(weights, prefix + ".weight").T.astype(np.float32))
        return op("Add", [op("MatMul", [x, kernel]), w(prefix + ".bias")])

    def layer_norm(x: str, prefix: str) -> str:
        return op("LayerNormalization", [x, w(prefix + ".weight"), w(prefix + ".bias")],
                  axis=-1, epsilon=spec.LAYER_NORM_EPS)

    head = spec.DIMENSION // spec.HEADS
    ids, mask = "input_ids", "attention_mask"
    one = const(np.array(1.0, np.float32))
    positions = "position_ids"  # 0..N-1 of the padded batch
    x = op("Add", [op("Gather", [w("embeddings.word_embeddings.weight"), ids]),
                   op("Gather", [w("embeddings.position_embeddings.weight"), positions])])
    x = op("Add", [x, const(spec.tensor(weights, "embeddings.token_type_embeddings.weight")[0]
                            .astype(np.float32))])
    x = layer_norm(x, "embeddings.LayerNorm")
    # Padding gets -10000 before the softmax, as BERT does.
    blocked = op("Mul", [op("Sub", [one, mask]), const(np.array(-10000.0, np.float32))])
    blocked = op("Unsqueeze", [blocked, const(np.array([1, 2], np.int64))])
    split_heads = const(np.array([0, 0, spec.HEADS, head], np.int64))
    merge_heads = const(np.array([0, 0, spec.DIMENSION], np.int64))
    scale = const(np.array(1.0 / np.sqrt(head), np.float32))
    for i in range(spec.LAYERS):
        p = f"encoder.layer.{i}."

        def heads(name: str, perm: list[int], x: str = x, p: str = p) -> str:
            projected = dense(x, p + "attention.self." + name)
            return op("Transpose", [op("Reshape", [projected, split_heads])], perm=perm)

        q, k, v = heads("query", [0, 2, 1, 3]), heads("key", [0, 2, 3, 1]), heads("value", [0, 2, 1, 3])
        scores = op("Add", [op("Mul", [op("MatMul", [q, k]), scale]), blocked])
        context = op("MatMul", [op("Softmax", [scores], axis=-1), v])
        context = op("Reshape", [op("Transpose", [context], perm=[0, 2, 1, 3]), merge_heads])
        x = layer_norm(op("Add", [dense(context, p + "attention.output.dense"), x]),
                       p + "attention.output.LayerNorm")
        hidden = dense(x, p + "intermediate.dense")
        gelu = op("Mul", [op("Mul", [hidden, const(np.array(0.5, np.float32))]),
                          op("Add", [one, op("Erf", [op("Mul", [hidden, const(
                              np.array(1 / np.sqrt(2.0), np.float32))])])])])
        x = layer_norm(op("Add", [dense(gelu, p + "output.dense"), x]), p + "output.LayerNorm")
    # Mean over the real tokens.
    weights3 = op("Unsqueeze", [mask, const(np.array([2], np.int64))])
    axis1 = const(np.array([1], np.int64))
    total = op("ReduceSum", [op("Mul", [x, weights3]), axis1], keepdims=0)
    count = op("ReduceSum", [weights3, axis1], keepdims=0)
    nodes.append(helper.make_node("Div", [total, count], ["pooled"]))
    graph = helper.make_graph(
        nodes, "minilm_mean_pooled",
        [helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info(mask, TensorProto.FLOAT, ["batch", "tokens"]),
         helper.make_tensor_value_info(positions, TensorProto.INT64, ["tokens"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", spec.DIMENSION])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # what onnxruntime 1.16 reads
    return model.SerializeToString()


class OnnxForward:
    """Mean-pooled BERT states of padded id batches, on one onnxruntime thread."""

    def __init__(self, weights: Mapping[str, np.ndarray], threads: int = 1) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            build_model(weights), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, batch: list[list[int]]) -> np.ndarray:
        """``batch``: id lists with ``[CLS]`` and ``[SEP]``; one pooled row per list."""
        width = max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.float32)
        for row, tokens in enumerate(batch):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1.0
        (pooled,) = self._session.run(["pooled"], {
            "input_ids": ids, "attention_mask": mask,
            "position_ids": np.arange(width, dtype=np.int64)})
        return np.asarray(pooled, dtype=np.float32)
