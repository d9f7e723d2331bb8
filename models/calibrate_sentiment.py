"""Fit the committed sentiment model's temperature on the dev sets and record it.

Temperature scaling: one scalar T such that softmax(logits / T) minimises the log loss on
the tweets' dev split and the single-sentence texts of the formal dev set (the two sets
count equally). It changes no label, only how sure the scores say the model is. The
appliance reads ``temperature`` from the model's ``manifest.json``.

Usage: python models/calibrate_sentiment.py   # prints T and the calibration error before/after
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from sentiment_data import ece, load_formal_set, load_tweets, stratified_split  # noqa: E402
from train_sentiment import fit_temperature, softmax  # noqa: E402

from appliance.nlp.sentences import split_sentences  # noqa: E402
from appliance.nlp.sentiment import SentimentModel  # noqa: E402

MODEL = HERE / "sentiment"


def main() -> None:
    manifest_path = MODEL / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest.pop("temperature", None)
    model = SentimentModel(MODEL, threads=1)
    model.temperature = 1.0
    texts, y = load_tweets()
    _, dev = stratified_split(y)
    tweet_logits = model._run([texts[i] for i in dev])[0]
    formal, fy, _ = load_formal_set("dev")
    single = [i for i, t in enumerate(formal) if len(split_sentences(t)) == 1]
    formal_logits = model._run([formal[i] for i in single])[0]
    groups = [(tweet_logits, y[dev]), (formal_logits, fy[single])]
    t = fit_temperature(groups)
    report = {}
    for name, (logits, labels) in zip(("tweets_dev", "formal_dev_single"), groups, strict=True):
        report[name] = {
            "ece_before": ece(softmax(logits), labels),
            "ece_after": ece(softmax(logits / t), labels),
        }
    manifest["temperature"] = t
    manifest["calibration"] = {"fitted_on": "tweets dev + formal dev (single sentences)", **report}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps({"temperature": t, **report}, indent=1))


if __name__ == "__main__":
    main()
