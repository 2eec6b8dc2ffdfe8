"""The one place that touches Keras graph internals.

Functional and Sequential Keras 3 models are graphs of nodes (one node per layer call). The
techniques of :mod:`cvkit.inside` need to look into those graphs: list every layer, also inside a
nested model (a MobileNetV2 used as a layer), find one by name, by ``"outer/inner"`` path or by
object, build a model that also returns the output of an inner layer, read the class score before
the softmax, and rebuild a model with some layers replaced (batch-norm folding). Each of those is a
small function here, so that the private attributes of Keras (``_functional``, ``_nodes_by_depth``,
``_keras_history``, ``_run_through_graph``) are read in this module and nowhere else.

Keras is imported on first use: ``import cvkit._graph`` stays cheap.
"""
from .rebuild import consumers, layer_calls, rebuild
from .tap import logit_model, probe_model, tap_model
from .walk import (LayerRef, find_layer, graph_nodes, graph_of, is_container, is_graph_model,
                   layer_io, layer_names, output_layer, output_shape, producer, walk_layers)

__all__ = ["LayerRef", "is_container", "is_graph_model", "graph_of", "graph_nodes", "walk_layers",
           "layer_names", "find_layer", "producer", "layer_io", "output_shape", "output_layer",
           "tap_model", "logit_model", "probe_model", "consumers", "layer_calls", "rebuild"]
