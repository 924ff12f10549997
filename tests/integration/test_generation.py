"""Generation through ``load_generator`` with both runtimes: the same answers in any batch, streaming,
stop strings, penalties, the same decoding rules in ONNX and transformers, and the export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_engineering.domain.chat import build_messages
from llm_engineering.domain.decoding import Decoding
from llm_engineering.model.generation import TextGenerator, load_generator, resolve_runtime
from llm_engineering.model.runtimes.onnx_runtime import MARKER, onnx_folder

pytestmark = pytest.mark.integration

QUESTIONS = [
    "Name three colours.",
    "What is a feature store? Answer in one sentence, please.",
    "Hi",
    "Write a paragraph about vector databases and fine-tuning language models.",
]
CONVERSATIONS = [build_messages(q, author="Ada") for q in QUESTIONS]
SAMPLED = Decoding(max_new_tokens=10, temperature=1.0, top_p=0.9, seed=3)
PENALISED = Decoding(max_new_tokens=16, repetition_penalty=1.8, no_repeat_ngram_size=2, frequency_penalty=0.5)


@pytest.fixture(scope="module")
def generators(tiny_model_dir: Path) -> Iterator[dict[str, TextGenerator]]:
    """The tiny model in both runtimes, float32 (the ONNX one exported once, fp32)."""
    loaded = {
        "transformers": load_generator(tiny_model_dir, runtime="transformers"),
        "onnx": load_generator(tiny_model_dir, runtime="onnx", dtype="fp32"),
    }
    yield loaded
    for generator in loaded.values():
        generator.close()


@pytest.mark.parametrize("runtime", ["transformers", "onnx"])
@pytest.mark.parametrize(
    "decoding", [Decoding.plain(max_new_tokens=8), SAMPLED, PENALISED], ids=["greedy", "sampled", "penalised"]
)
def test_an_answer_does_not_depend_on_its_batch(generators, runtime: str, decoding: Decoding) -> None:
    generator = generators[runtime]
    batched = generator.generate(CONVERSATIONS, decoding, batch_size=4)
    reversed_pairs = generator.generate(CONVERSATIONS[::-1], decoding, batch_size=2)[::-1]
    single = [generator.generate([c], decoding, batch_size=1)[0] for c in CONVERSATIONS]
    assert batched == single == reversed_pairs  # the input order, whatever the neighbours
    for answer, conversation in zip(batched, CONVERSATIONS, strict=True):
        assert answer.prompt_tokens == len(generator.prompt_ids(conversation))
        assert 1 <= answer.completion_tokens <= decoding.max_new_tokens
        assert answer.finish_reason == (
            "length" if answer.completion_tokens == decoding.max_new_tokens else "stop"
        )


def test_both_runtimes_apply_the_same_decoding_rules(generators) -> None:
    for decoding in (Decoding.plain(max_new_tokens=12), Decoding(max_new_tokens=12), SAMPLED, PENALISED):
        onnx = generators["onnx"].generate(CONVERSATIONS, decoding)
        torch = generators["transformers"].generate(CONVERSATIONS, decoding)
        assert [a.token_ids for a in onnx] == [a.token_ids for a in torch], decoding


@pytest.mark.parametrize("runtime", ["transformers", "onnx"])
def test_penalties_change_the_answer_and_hold(generators, runtime: str) -> None:
    generator = generators[runtime]
    plain = generator.generate(CONVERSATIONS, Decoding.plain(max_new_tokens=16))
    penalised = generator.generate(CONVERSATIONS, PENALISED)
    assert [a.token_ids for a in plain] != [a.token_ids for a in penalised]
    for answer in penalised:
        bigrams = list(zip(answer.token_ids, answer.token_ids[1:], strict=False))
        assert len(bigrams) == len(set(bigrams))  # no_repeat_ngram_size=2 holds
    sampled = [
        generator.generate(CONVERSATIONS, SAMPLED.model_copy(update={"seed": s}))[0].text for s in range(4)
    ]
    assert len(set(sampled)) > 1  # the seed is used


@pytest.mark.parametrize("runtime", ["transformers", "onnx"])
def test_streaming_equals_the_whole_answer_and_stops_before_a_stop_string(generators, runtime: str) -> None:
    generator = generators[runtime]
    decoding = Decoding(max_new_tokens=24)
    conversation = CONVERSATIONS[3]
    [whole] = generator.generate([conversation], decoding)
    pieces = list(generator.stream(conversation, decoding))
    assert len(pieces) > 1 and "".join(pieces).strip() == whole.text
    stop = whole.text[len(whole.text) // 2 : len(whole.text) // 2 + 2]
    cut = "".join(generator.stream(conversation, decoding.model_copy(update={"stop": (stop,)})))
    assert cut == whole.text[: whole.text.find(stop)] and stop not in cut
    [stopped] = generator.generate([conversation], decoding.model_copy(update={"stop": (stop,)}))
    assert stopped.text == cut.strip() and stopped.finish_reason == "stop"


def test_the_export_is_made_once_beside_the_folder(generators, tiny_model_dir: Path) -> None:
    from llm_engineering.model.runtimes.onnx_runtime import export_onnx

    export = onnx_folder(tiny_model_dir, "fp32")
    assert export == tiny_model_dir.parent / f"{tiny_model_dir.name}-onnx-fp32"
    assert (export / MARKER).is_file() and (export / "model.onnx").is_file()
    stamp = (export / "model.onnx").stat().st_mtime_ns
    assert export_onnx(tiny_model_dir, precision="fp32") == export
    assert (export / "model.onnx").stat().st_mtime_ns == stamp  # reused, not rebuilt
    with pytest.raises(FileNotFoundError, match="config.json"):
        export_onnx(export.parent / "missing")


def test_the_runtime_is_onnx_on_the_cpu_unless_configured(monkeypatch) -> None:
    monkeypatch.delenv("TWIN_RUNTIME", raising=False)
    monkeypatch.setenv("LLM_TWIN_ENV_FILE", "/nonexistent.env")
    assert resolve_runtime(None) == "onnx"
    assert resolve_runtime(None, device="cuda") == "transformers"
    monkeypatch.setenv("TWIN_RUNTIME", "transformers")
    assert resolve_runtime(None) == "transformers"
    with pytest.raises(ValueError, match="TWIN_RUNTIME must be one of onnx, transformers"):
        resolve_runtime("vllm")
    with pytest.raises(ValueError, match="exported for the CPU"):
        resolve_runtime("onnx", device="cuda")


def test_the_int8_export_of_the_real_model_answers_and_ends_its_turn(smollm2_dir: Path) -> None:
    # Greedy with no penalties: the penalised defaults make the base model list at length.
    decoding = Decoding.plain().model_copy(update={"max_new_tokens": 40})
    with load_generator(smollm2_dir, runtime="onnx") as generator:
        conversation = build_messages("Name three colours.", author="Ada Lovelace")
        [answer] = generator.generate([conversation], decoding)
        assert answer.finish_reason == "stop"
        assert any(colour in answer.text.lower() for colour in ("red", "blue", "green", "yellow"))
        assert "".join(generator.stream(conversation, decoding)).strip() == answer.text


def test_registration_exports_once_and_a_failed_export_is_not_fatal(
    tiny_model_dir: Path, tmp_path, caplog
) -> None:
    from llm_engineering.model.training.publish import export_for_cpu

    assert export_for_cpu(tiny_model_dir, precision="fp32") == onnx_folder(tiny_model_dir, "fp32")
    assert export_for_cpu(tmp_path / "no-model") is None
    assert "no ONNX export of" in caplog.text and "exported when first loaded" in caplog.text
