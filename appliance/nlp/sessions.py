"""One place that creates onnxruntime sessions, so every model runs under the same policy."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def create_session(path: Path, threads: int = 1, *, spin: bool = False) -> ort.InferenceSession:
    """A CPU session running ``threads`` intra-op threads, nodes in sequence.

    Spinning is off by default: the API shares its cores with SQLite and the indexer, and
    busy-waiting pool threads slowed neighbours' queries (see MEASURED.md). Benchmarks that
    own the machine may turn it on.
    """
    if threads < 1:
        raise ValueError("threads must be >= 1")
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
