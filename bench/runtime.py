"""Benchmark: the ONNX export's quality against the merged float32 folder it came from.

Held-out author perplexity of each handbook author's articles, computed from the logits of
the merged folder in transformers (float32, the reference) and of its ONNX Runtime GenAI
exports (int8, the CPU default; int4; fp32), side by side, with the ratio to the reference.
The target: the default export within 5% of the float32 folder. It also prints one greedy
answer's tokens/s with each runtime on the same prompt.

Run: ``python -m bench.runtime [--model FOLDER] [--articles 4] [--window 256] [--windows 2]``.
Without ``--model`` the packaged SmolLM2-135M-Instruct is used (converted once into the state
folder); pass a merged twin's folder to check a trained version. The corpus is read from
``../shared/corpora/llm-engineers-handbook`` (never copied into the repository).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from llm_engineering.settings import PROJECT_ROOT

CORPUS = PROJECT_ROOT.parent / "shared" / "corpora" / "llm-engineers-handbook"
PROMPT = "Explain in a few paragraphs how you would design a feature store for an LLM twin."


def held_out_texts(corpus: Path, per_author: int) -> dict[str, list[str]]:
    """``per_author`` articles of each author, picked by a hash of their link (deterministic)."""
    by_author: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for article in json.loads((corpus / "ArticleDocument.json").read_text(encoding="utf-8")):
        text = re.sub(r"\s+", " ", article["content"].get("Content") or "").strip()
        if len(text) > 2000:
            key = hashlib.sha256(article.get("link", text[:200]).encode()).hexdigest()
            by_author[article["author_full_name"]].append((key, text))
    return {author: [t for _, t in sorted(items)[:per_author]] for author, items in sorted(by_author.items())}


def windows(tokenizer, texts: list[str], *, size: int, count: int) -> list[list[int]]:
    """Up to ``count`` consecutive windows of ``size`` tokens from each text (skipping its first 64 tokens:
    site navigation)."""
    out = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][64:]
        out.extend(ids[i * size : (i + 1) * size] for i in range(count) if len(ids) >= (i + 1) * size)
    return out


def torch_log_likelihoods(model, token_ids: list[int]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        logits = model(torch.tensor([token_ids])).logits[0, :-1].double()
    log_probs = torch.log_softmax(logits, dim=-1)
    return log_probs[torch.arange(len(token_ids) - 1), torch.tensor(token_ids[1:])].numpy()


def perplexity(scores: list[np.ndarray]) -> float:
    return math.exp(-float(np.concatenate(scores).mean()))


def tokens_per_second(folder: Path, runtime: str, dtype: str | None, tokens: int) -> float:
    from llm_engineering.domain.chat import build_messages
    from llm_engineering.domain.decoding import Decoding
    from llm_engineering.model.generation import load_generator

    conversation = build_messages(PROMPT, author=None)
    with load_generator(folder, runtime=runtime, dtype=dtype) as generator:
        generator.generate([conversation], Decoding(max_new_tokens=4))  # warm-up
        started = time.perf_counter()
        [answer] = generator.generate([conversation], Decoding(max_new_tokens=tokens))
        return answer.completion_tokens / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a merged model folder (default: the packaged SmolLM2)")
    parser.add_argument("--articles", type=int, default=4, help="held-out articles per author")
    parser.add_argument("--window", type=int, default=256, help="tokens per scored window")
    parser.add_argument("--windows", type=int, default=2, help="windows per article")
    parser.add_argument("--tokens", type=int, default=64, help="answer tokens for the speed line")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from llm_engineering.model.runtimes.onnx_decoder import OnnxSession
    from llm_engineering.model.runtimes.onnx_runtime import PRECISIONS, export_onnx, token_log_likelihoods
    from llm_engineering.model.runtimes.torch_runtime import load_causal_lm

    folder = args.model
    if folder is None:
        from llm_engineering.model.base_model import resolve_base_model
        from llm_engineering.settings import get_settings

        folder = resolve_base_model(None, models_dir=get_settings().models_dir)
    model, tokenizer = load_causal_lm(folder, dtype="float32")
    texts = held_out_texts(CORPUS, args.articles)
    scored = {
        author: windows(tokenizer, items, size=args.window, count=args.windows)
        for author, items in texts.items()
    }
    columns: dict[str, dict[str, float]] = defaultdict(dict)
    for author, chunks in scored.items():
        columns["transformers fp32"][author] = perplexity([torch_log_likelihoods(model, c) for c in chunks])
    del model
    for precision in PRECISIONS:
        started = time.perf_counter()
        export = export_onnx(folder, precision=precision)
        print(f"export {precision}: {export} ({time.perf_counter() - started:.1f} s, reused when present)")
        onnx_model = OnnxSession(export)
        for author, chunks in scored.items():
            columns[f"onnx {precision}"][author] = perplexity(
                [token_log_likelihoods(onnx_model, c) for c in chunks]
            )
        del onnx_model
    reference = columns["transformers fp32"]
    print(f"model: {folder}")
    print(
        f"held-out author perplexity ({args.articles} articles per author, {args.windows} windows of "
        f"{args.window} tokens each):"
    )
    print(f"  {'runtime':<18}" + "".join(f"{author:>24}" for author in scored) + "   worst ratio  within 5%")
    for name, values in columns.items():
        ratios = [values[a] / reference[a] for a in scored]
        worst = max(ratios, key=lambda r: abs(r - 1))
        cells = "".join(f"{values[a]:>14.2f} (x{values[a] / reference[a]:.3f})" for a in scored)
        print(f"  {name:<18}{cells}   x{worst:.3f}       {'yes' if abs(worst - 1) <= 0.05 else 'NO'}")
    counts = ", ".join(f"{a}: {sum(len(c) - 1 for c in chunks)}" for a, chunks in scored.items())
    print(f"  tokens scored: {counts}")
    print(f"one greedy answer ({args.tokens} tokens), tokens/s:")
    for runtime, dtype in (("transformers", None), *(("onnx", precision) for precision in PRECISIONS)):
        rate = tokens_per_second(folder, runtime, dtype, args.tokens)
        print(f"  {runtime} {dtype or 'fp32'}: {rate:.1f}")


if __name__ == "__main__":
    main()
