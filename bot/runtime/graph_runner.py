"""Rasa's prediction graph run in order, without dask's scheduler.

Rasa 3.6 runs the prediction graph twice a turn (the NLU pipeline, then the policies) with
``DaskGraphRunner``, which builds a dask graph and hands it to dask's synchronous scheduler
on every run. A py-spy profile of the server at 10 msg/s put that bookkeeping (the minimal
schema, the dask graph, dask's task queue) at about a tenth of the server's CPU per turn.
The graph is small and fixed once the model is loaded, so :class:`SequentialGraphRunner`
works out each target list's order once and then calls the same ``GraphNode`` objects in
that order, with the same inputs and the same result: ``{node name: output}``.

:func:`install` makes ``MessageProcessor`` load models with it (``rasa.core.processor``
imports the class by name); training keeps Rasa's runner.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Tuple

import rasa.core.processor as rasa_processor
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner


def run_order(schema: GraphSchema, targets: List[Text]) -> List[Text]:
    """The nodes ``targets`` need, each after every node it needs."""
    order: List[Text] = []
    state: Dict[Text, str] = {}

    def visit(name: Text) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise GraphRunError(f"The graph has a cycle through '{name}'.")
        state[name] = "visiting"
        node = schema.nodes.get(name)
        for needed in (node.needs.values() if node is not None else ()):
            visit(needed)
        state[name] = "done"
        order.append(name)

    for target in targets:
        visit(target)
    return order


class SequentialGraphRunner(DaskGraphRunner):
    """``DaskGraphRunner`` whose ``run`` calls the nodes in a precomputed order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._orders: Dict[Tuple[Text, ...], List[Text]] = {}

    def run(self, inputs: Optional[Dict[Text, Any]] = None,
            targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
        run_targets = list(targets if targets else self._graph_schema.target_names)
        key = tuple(run_targets)
        order = self._orders.get(key)
        if order is None:
            order = self._orders[key] = run_order(self._graph_schema, run_targets)
        inputs = inputs or {}
        for name in inputs:
            if name in self._graph_schema.nodes:
                raise GraphRunError(
                    f"Input value '{name}' clashes with a node name. Make sure that none of "
                    f"the input names passed to the `run` method are the same as node names "
                    f"in the graph schema.")
        results: Dict[Text, Any] = {}
        try:
            for name in order:
                if name in inputs:
                    results[name] = (name, inputs[name])
                    continue
                node = self._graph_schema.nodes.get(name)
                if node is None:
                    raise GraphRunError(f"Nothing gives the graph's input '{name}'.")
                results[name] = self._instantiated_nodes[name](
                    *(results[needed] for needed in node.needs.values()))
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(results[target] for target in run_targets)


def install() -> bool:
    """Load the models the server predicts with into :class:`SequentialGraphRunner`."""
    if rasa_processor.DaskGraphRunner is SequentialGraphRunner:
        return False
    rasa_processor.DaskGraphRunner = SequentialGraphRunner  # type: ignore[misc]
    return True
