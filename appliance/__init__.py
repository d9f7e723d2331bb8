"""Self-hosted financial NLP appliance."""

import os

# Single-threaded BLAS, set before anything imports numpy: OpenBLAS's worker threads spin
# while idle, which measured doubling SQLite's query time in the same process, and the
# vector scan is memory-bound (one thread already reaches the bandwidth limit). An explicit
# environment setting still wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
