"""Benchmark: retrieval latency and hit rate, and generation speed of each runtime through the API.

Runs the service as a separate process (``python -m tools.serve``, so client and server do not
share a GIL) and prints, side by side in one run:

1. ``/rag`` retrieval latency without generation (``generate: false``), p50 and p95 over the
   held-out handbook questions, and the hit rate at 5 of ``/rag`` (hybrid) vs dense search
   (skipped with ``--no-retrieval``).
2. For each runtime (``onnx``, the CPU default, and ``transformers``): tokens/s of one greedy
   answer from the bare runtime in this process (``load_generator(...).generate``), of one
   streamed answer through the API (retrieval off, same prompt), their ratio, time to first
   token, and the aggregate tokens/s of 1, 4 and 8 concurrent streaming clients with errors.
3. The targets: one API stream with onnx at least 3x the transformers one; 4 clients at least
   1.5x one client's aggregate; API / bare runtime at least 0.9.

Run: ``python -m bench.serving [--state-dir DIR] [--model FOLDER] [--tokens 64] [--questions 60]
[--torch-threads 1] [--runtimes onnx,transformers] [--no-retrieval]``. Without ``--state-dir`` the
corpus is imported and embedded into a temporary folder first (about a minute); without ``--model``
the packaged SmolLM2-135M-Instruct is converted once into the state folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from llm_engineering.infrastructure.local_services import WarehouseServer, free_port
from llm_engineering.settings import PROJECT_ROOT, Settings

CORPUS = PROJECT_ROOT.parent / "shared" / "corpora" / "llm-engineers-handbook"
KEY = "bench-key"
PROMPT = "Explain in a few paragraphs how you would design a feature store for an LLM twin."


def embed_corpus(state_dir: Path) -> None:
    """Import the handbook corpus into a throwaway warehouse and embed it into ``state_dir/qdrant``."""
    from llm_engineering.application.features.flow import run_feature_flow
    from llm_engineering.configs.features import FeatureEngineeringConfig
    from llm_engineering.domain.documents import ArticleDocument
    from llm_engineering.infrastructure.embeddings import build_embedder
    from llm_engineering.infrastructure.vector_stores import QdrantEdgeStore
    from llm_engineering.infrastructure.warehouse import connect
    from llm_engineering.infrastructure.warehouse_json import import_warehouse

    embedder = build_embedder(Settings(_env_file=None))
    with tempfile.TemporaryDirectory(prefix="bench-warehouse-") as tmp:
        server = WarehouseServer(data_dir=Path(tmp), port=free_port())
        server.start()
        try:
            with connect(server.uri, "bench") as warehouse, QdrantEdgeStore(state_dir / "qdrant") as store:
                import_warehouse(warehouse, CORPUS)
                authors = sorted({d.author_full_name for d in warehouse.find(ArticleDocument)})
                run_feature_flow(
                    warehouse=warehouse,
                    store=store,
                    embedder=lambda: embedder,
                    model_name=embedder.model_id,
                    config=FeatureEngineeringConfig(author_full_names=authors),
                    progress=False,
                )
        finally:
            server.stop()


def held_out_questions(state_dir: Path, limit: int):
    """Labelled held-out questions and the dense-search hit rate at 5 on them."""
    from llm_engineering.application.rag.benchmark import handbook_pairs, hit_rate, label_questions
    from llm_engineering.application.rag.retrieval import search
    from llm_engineering.infrastructure.embeddings import build_embedder
    from llm_engineering.infrastructure.vector_stores import QdrantEdgeStore
    from llm_engineering.serving.store import build_lexical_index

    embedder = build_embedder(Settings(_env_file=None))
    dataset = json.loads((CORPUS / "instruct_datasets.json").read_text(encoding="utf-8"))
    with QdrantEdgeStore(state_dir / "qdrant") as store:
        lexical = build_lexical_index(store)
        questions = label_questions(handbook_pairs(dataset), store=store, lexical=lexical, embedder=embedder)[
            :limit
        ]
        dense = hit_rate(
            questions, lambda q: [h.link for h in search(q, store=store, embedder=embedder, k=5)]
        )
    return questions, dense


class Service:
    """``python -m tools.serve`` in a child process on a free port."""

    def __init__(self, state_dir: Path, model: Path, runtime: str) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "STATE_DIR": str(state_dir),
            "TWIN_BACKEND": "local",
            "TWIN_MODEL": str(model),
            "TWIN_RUNTIME": runtime,
            "SERVING_API_KEY": KEY,
            "LLM_TWIN_ENV_FILE": str(state_dir / "no.env"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.serve", "--port", str(self.port), "--log-level", "warning"],
            cwd=PROJECT_ROOT,
            env=env,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 300, *, model_only: bool = False) -> None:
        """Wait for ``/ready`` (``model_only``: for the model alone; the generation figures ask with retrieval off)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"{self.url}/ready", headers={"Authorization": f"Bearer {KEY}"})
                if response.status_code == 200 or (model_only and response.json()["model"]["ready"]):
                    return
            except (httpx.TransportError, ValueError, KeyError):
                pass
            if self.process.poll() is not None:
                raise RuntimeError("the service exited")
            time.sleep(0.5)
        raise TimeoutError("the service never became ready")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


async def stream_once(client: httpx.AsyncClient, tokens: int) -> tuple[float, float, int]:
    """One streamed answer: (seconds to first content, total seconds, completion tokens)."""
    body = {
        "model": "llm-twin",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "rag": False,
    }
    started = time.perf_counter()
    first = None
    completion = 0
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if "error" in event:
                raise RuntimeError(event["error"]["message"])
            if first is None and any(c["delta"].get("content") for c in event["choices"]):
                first = time.perf_counter() - started
            if event.get("usage"):
                completion = event["usage"]["completion_tokens"]
    return first or 0.0, time.perf_counter() - started, completion


async def concurrent(url: str, clients: int, tokens: int) -> tuple[float, int, int]:
    """Aggregate tokens/s of ``clients`` simultaneous streams, tokens generated, errors."""
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=600
    ) as client:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(stream_once(client, tokens) for _ in range(clients)), return_exceptions=True
        )
        elapsed = time.perf_counter() - started
    errors = sum(isinstance(r, BaseException) for r in results)
    generated = sum(r[2] for r in results if not isinstance(r, BaseException))
    return generated / elapsed, generated, errors


def bare_generate(model_dir: Path, tokens: int, runtime: str) -> tuple[float, float]:
    """(time to first token of a stream, tokens/s of one greedy answer) of the bare runtime in this process."""
    from llm_engineering.domain.chat import build_messages
    from llm_engineering.domain.decoding import Decoding
    from llm_engineering.model.generation import load_generator

    conversation = build_messages(PROMPT, author=None)
    with load_generator(model_dir, runtime=runtime) as generator:
        generator.generate([conversation], Decoding(max_new_tokens=4))  # warm-up
        started = time.perf_counter()
        pieces = generator.stream(conversation, Decoding(max_new_tokens=tokens))
        next(pieces)
        ttft = time.perf_counter() - started
        pieces.close()
        started = time.perf_counter()
        (answer,) = generator.generate([conversation], Decoding(max_new_tokens=tokens))
        return ttft, answer.completion_tokens / (time.perf_counter() - started)


def measure_runtime(state_dir: Path, model_dir: Path, runtime: str, tokens: int) -> dict:
    """Bare and API figures of one runtime (the service restarted with ``TWIN_RUNTIME``)."""
    ttft_bare, rate_bare = bare_generate(model_dir, tokens, runtime)
    service = Service(state_dir, model_dir, runtime)
    try:
        service.wait_ready(model_only=True)
        headers = {"Authorization": f"Bearer {KEY}"}

        async def api_single() -> tuple[float, float, int]:
            async with httpx.AsyncClient(base_url=service.url, headers=headers, timeout=600) as client:
                await stream_once(client, 4)  # warm-up
                return await stream_once(client, tokens)

        ttft_api, total_api, tokens_api = asyncio.run(api_single())
        clients = {n: asyncio.run(concurrent(service.url, n, tokens)) for n in (1, 4, 8)}
    finally:
        service.stop()
    return {
        "bare": rate_bare,
        "ttft_bare": ttft_bare,
        "api": tokens_api / total_api,
        "ttft_api": ttft_api,
        "clients": clients,
    }


def print_runtimes(results: dict[str, dict], tokens: int) -> None:
    names = list(results)
    print(f"generation, {tokens} tokens, greedy, retrieval off:   " + "".join(f"{n:>16}" for n in names))
    rows = [
        ("bare runtime, tokens/s", lambda r: f"{r['bare']:.1f}"),
        ("API one stream, tokens/s", lambda r: f"{r['api']:.1f}"),
        ("API / bare", lambda r: f"x{r['api'] / r['bare']:.2f}"),
        (
            "time to first token API/bare",
            lambda r: f"{r['ttft_api'] * 1000:.0f}/{r['ttft_bare'] * 1000:.0f} ms",
        ),
        *(
            (
                f"{n} client(s), aggregate tokens/s",
                lambda r, n=n: f"{r['clients'][n][0]:.1f} (x{r['clients'][n][0] / r['clients'][1][0]:.2f})",
            )
            for n in (1, 4, 8)
        ),
        ("errors (1/4/8 clients)", lambda r: "/".join(str(r["clients"][n][2]) for n in (1, 4, 8))),
    ]
    for label, cell in rows:
        print(f"  {label:<50}" + "".join(f"{cell(results[n]):>16}" for n in names))
    if "onnx" in results and "transformers" in results:
        speedup = results["onnx"]["api"] / results["transformers"]["api"]
        print(f"  API one stream, onnx / transformers: x{speedup:.2f} (target x3)")
    for name, r in results.items():
        four = r["clients"][4][0] / r["clients"][1][0]
        print(
            f"  {name}: 4 clients x{four:.2f} of one (target x1.5); API / bare x{r['api'] / r['bare']:.2f} (target 0.9)"
        )


def retrieval_figures(service_url: str, questions) -> tuple[list[float], int]:
    """``/rag`` latencies (ms) without generation and hits at 5 over ``questions``."""
    latencies, hits = [], 0
    with httpx.Client(base_url=service_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as client:
        client.post("/rag", json={"query": "warm-up", "generate": False})
        for question in questions:
            started = time.perf_counter()
            body = client.post("/rag", json={"query": question.question, "k": 5, "generate": False}).json()
            latencies.append((time.perf_counter() - started) * 1000)
            hits += question.link in {item["link"] for item in body["context"]}
    return latencies, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, help="a state folder whose store already holds the corpus")
    parser.add_argument(
        "--model", type=Path, help="a model folder (default: the packaged SmolLM2, converted)"
    )
    parser.add_argument("--tokens", type=int, default=64, help="answer tokens per request")
    parser.add_argument("--questions", type=int, default=60, help="held-out questions for /rag latency")
    parser.add_argument(
        "--torch-threads", type=int, default=1, help="OMP_NUM_THREADS here and in the service"
    )
    parser.add_argument("--runtimes", default="onnx,transformers", help="comma-separated runtimes to compare")
    parser.add_argument("--no-retrieval", action="store_true", help="skip the /rag latency and hit-rate part")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Before torch loads, for this process (bare generate, labelling) and the service alike, so the
    # comparison is like for like. On a loaded 2-core machine torch's 2-thread pool was up to 18x
    # slower than one thread (threads spinning at barriers while their core is taken).
    os.environ["OMP_NUM_THREADS"] = str(args.torch_threads)
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        state_dir = args.state_dir or Path(tmp) / "state"
        if args.state_dir is None and not args.no_retrieval:
            print("embedding the handbook corpus ...", flush=True)
            embed_corpus(state_dir)
        model_dir = args.model
        if model_dir is None:
            from llm_engineering.model.base_model import resolve_base_model

            model_dir = resolve_base_model(None, models_dir=state_dir / "models")
        if not args.no_retrieval:
            questions, dense_rate = held_out_questions(state_dir, args.questions)
            service = Service(state_dir, model_dir, runtimes[0])
            try:
                service.wait_ready()
                latencies, hits = retrieval_figures(service.url, questions)
            finally:
                service.stop()
        results = {}
        for runtime in runtimes:
            print(f"measuring {runtime} ...", flush=True)
            results[runtime] = measure_runtime(state_dir, model_dir, runtime, args.tokens)
    print(f"model: {model_dir}")
    if not args.no_retrieval:
        print(f"/rag retrieval, no generation ({len(latencies)} held-out questions, k=5):")
        print(f"  p50 {statistics.median(latencies):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms")
        print(f"  hit rate at 5: /rag {hits / len(questions):.3f} vs dense search {dense_rate:.3f}")
    print_runtimes(results, args.tokens)


if __name__ == "__main__":
    main()
