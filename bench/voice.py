"""Benchmark: does the voice stage (causal LM on one author's text) learn the person or the domain?

Trains the voice stage on the training-split articles of one handbook author (split by the
datasets' own document hash, ``--held-out-share`` of the documents held out), then measures the perplexity of BOTH authors'
held-out articles with the base model and with the voice model. A stage that learns the
person lowers its own author's held-out perplexity more than the other author's.

Run (reads the corpus, never copies it)::

    python -m bench.voice --corpus /work/shared/corpora/llm-engineers-handbook \
        --author "Maxime Labonne" --steps 24 [--full] [--learning-rate 5e-4]

Prints one table: held-out perplexity per author, base and voice, their ratio, and the stage's
seconds and CPU-seconds.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import tempfile
from pathlib import Path

from llm_engineering.application.datasets.splits import assign_splits


def load_articles(corpus: Path) -> list[dict[str, str]]:
    """Articles of the handbook export: id, author and plain text."""
    articles = []
    for raw in json.loads((corpus / "ArticleDocument.json").read_text(encoding="utf-8")):
        content = raw["content"]
        if isinstance(content, str):
            try:
                content = ast.literal_eval(content)
            except (ValueError, SyntaxError):
                content = {"Content": content}
        text = "\n\n".join(str(v) for k, v in content.items() if v and k != "Title")
        articles.append({"id": raw["_id"], "author": raw["author_full_name"], "text": " ".join(text.split())})
    return articles


def pieces(text: str, *, chars: int = 1500) -> list[str]:
    """``text`` cut into pieces of about ``chars`` characters at sentence ends."""
    out, current = [], ""
    for sentence in text.replace(". ", ".\n").split("\n"):
        if len(current) + len(sentence) > chars and current:
            out.append(current.strip())
            current = ""
        current += sentence + " "
    if current.strip():
        out.append(current.strip())
    return out


def perplexity(folder: Path, texts: list[str], *, window: int = 256, windows_per_text: int = 2) -> float:
    """exp(mean token negative log-likelihood) over the first windows of each text."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt")["input_ids"][0]
            for start in range(0, min(len(ids), window * windows_per_text), window):
                chunk = ids[start : start + window].unsqueeze(0)
                if chunk.shape[1] < 16:
                    continue
                loss = model(chunk, labels=chunk).loss
                total += float(loss) * (chunk.shape[1] - 1)
                count += chunk.shape[1] - 1
    return math.exp(total / count)


def greedy_loops(
    folder: Path, questions: list[str], *, author: str, max_new_tokens: int = 96
) -> tuple[float, str]:
    """Loop rate of greedy answers to ``questions`` (the evaluation's rule: one word 4-gram 3+ times),
    and the first answer."""
    from llm_engineering.domain.chat import build_messages
    from llm_engineering.domain.decoding import Decoding
    from llm_engineering.model.evaluation.generated import loop_rate
    from llm_engineering.model.generation import load_generator

    with load_generator(folder, runtime="transformers") as generator:
        answers = generator.generate(
            [build_messages(q, author=author) for q in questions],
            Decoding.plain(max_new_tokens=max_new_tokens),
        )
    texts = [a.text for a in answers]
    return loop_rate(texts), texts[0] if texts else ""


def main() -> None:
    from datasets import Dataset

    from llm_engineering.configs.training import VoiceStageConfig
    from llm_engineering.model.base_model import resolve_base_model
    from llm_engineering.model.training.trainer import train_stage

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("/work/shared/corpora/llm-engineers-handbook"))
    parser.add_argument("--author", default="Maxime Labonne")
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--full", action="store_true", help="train every weight instead of LoRA")
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--held-out-texts", type=int, default=4)
    parser.add_argument(
        "--held-out-share", type=float, default=0.3, help="share of documents held out (by hash)"
    )
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument(
        "--loops",
        type=int,
        default=0,
        help="greedy answers to this many held-out titles per model (loop rate)",
    )
    args = parser.parse_args()

    articles = load_articles(args.corpus)
    titles = {}
    for raw in json.loads((args.corpus / "ArticleDocument.json").read_text(encoding="utf-8")):
        content = raw["content"] if isinstance(raw["content"], dict) else ast.literal_eval(raw["content"])
        titles[raw["_id"]] = str(content.get("Title") or "").split(" - ", 1)[-1]
    sides = assign_splits(
        [a["id"] for a in articles], test_size=args.held_out_share, validation_size=0.0, seed=42
    )
    train = [
        p
        for a in articles
        if a["author"] == args.author and sides[a["id"]] == "train"
        for p in pieces(a["text"])
    ]
    held_out = {
        author: [a["text"] for a in articles if a["author"] == author and sides[a["id"]] == "test"][
            : args.held_out_texts
        ]
        for author in sorted({a["author"] for a in articles})
    }
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-voice-"))
    base = resolve_base_model(None, models_dir=work / "models")
    learning_rate = args.learning_rate or (2e-5 if args.full else 5e-4)
    settings = VoiceStageConfig(
        max_steps=args.steps,
        learning_rate=learning_rate,
        full_parameters=args.full,
        per_device_train_batch_size=2,
        max_length=256,
        save_steps=4,
    )
    result = train_stage(
        "voice",
        model_folder=base,
        train_rows=Dataset.from_list([{"text": t} for t in train]),
        settings=settings,
        stage_dir=work / ("voice-full" if args.full else "voice-lora"),
        device="cpu",
        merged_dtype="float32",
    )
    method = "full" if args.full else "LoRA r=8"
    print(
        f"voice stage: {method}, lr {learning_rate}, {result.steps} steps of 2 x 256 tokens on {len(train)} "
        f"pieces of {args.author}'s training articles; {result.seconds:.0f} s, {result.cpu_seconds:.0f} CPU-s, "
        f"loss {result.loss_first:.3f} -> {result.loss_last:.3f}"
    )
    print("| held-out articles of | texts | base ppl | voice ppl | voice/base |")
    print("|---|---|---|---|---|")
    for author, texts in held_out.items():
        before, after = perplexity(base, texts), perplexity(result.merged, texts)
        print(f"| {author} | {len(texts)} | {before:.2f} | {after:.2f} | {after / before:.3f} |")
    if args.loops:
        own = [a for a in articles if a["author"] == args.author and sides[a["id"]] == "test"][: args.loops]
        questions = [f'What is your article "{titles[a["id"]]}" about?' for a in own]
        for name, folder in (("base", base), ("voice", result.merged)):
            rate, first = greedy_loops(folder, questions, author=args.author)
            print(
                f"{name}: greedy loop rate {rate:.2f} over {len(questions)} held-out titles; first answer: {first[:300]!r}"
            )


if __name__ == "__main__":
    main()
