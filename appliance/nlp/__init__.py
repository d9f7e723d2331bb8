"""Local NLP models on onnxruntime + tokenizers: the embedder and the sentiment classifier."""
