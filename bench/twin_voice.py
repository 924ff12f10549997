"""Benchmark: does each handbook author's twin write like its author, as it is served?

On the LLM Engineer's Handbook corpus (../shared/corpora/llm-engineers-handbook, read in place):

1. holds out a few articles of each author from everything: they never reach the warehouse, so
   no dataset, feature or voice stage sees them;
2. runs the project's own pipelines through ``tools.run`` in an isolated state (its own
   STATE_DIR, nx-27017 warehouse and ZenML store): features for both authors, then for each
   author the instruction and preference datasets and the training pipeline with the shipped
   defaults, capped at ``sft.max_steps=100`` and ``dpo.max_steps=30``;
3. serves each twin, and the base model once as each author (a registry version of the base's
   folder with that author, so it gets the same prompt), with ``tools.serve`` and asks each
   question about the held-out articles through ``/v1/chat/completions`` with the API's own
   decoding, twice: with retrieval as served and with ``rag: false``;
4. scores the answers: the share a classifier trained on the two authors' other articles
   (``llm_engineering.model.evaluation.attribution``) attributes to the twin's own author, the
   loop rate (one word 4-gram 3+ times) and the share that ended before the token limit; and the
   held-out articles' perplexity under each twin over the base's, for both authors' articles.

It prints a table and the issue's checks (PASS/FAIL): served answers attributed to the own
author >= 75%; without passages the twin's share >= the base's + 15 points; the twins' loop
rate <= 0.1; each twin lowers its own author's held-out perplexity more than the other's.

Run: ``python -m bench.twin_voice [--quick] [--work DIR] [--split test|dev] [--training-set KEY=VALUE ...]
[--dataset-set KEY=VALUE ...]``
(``poe bench-twin-voice``). ``--quick`` is a smoke run (a few steps, one article per author).
``--split dev`` asks about the next few articles of each author instead and leaves the test ones
out of everything too: training settings are compared there, and only the chosen one is run on test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click

from bench.twin_voice_report import (
    SPLITS,
    Article,
    Row,
    author_classifiers,
    checks,
    classifier_accuracy,
    format_ratios,
    format_rows,
    held_out_passages,
    load_articles,
    questions_for_article,
    score_rows,
    split_articles,
)
from llm_engineering.settings import PROJECT_ROOT

CORPUS = PROJECT_ROOT.parent / "shared" / "corpora" / "llm-engineers-handbook"
API_KEY = "bench-twin-voice"


@dataclass(frozen=True)
class Budget:
    """How much the bench trains and asks."""

    sft_steps: int
    dpo_steps: int
    held_out: int  # articles per author
    questions: int  # per held-out article
    max_tokens: int  # per answer
    passages: int  # held-out passages per article for perplexity


FULL = Budget(sft_steps=100, dpo_steps=30, held_out=3, questions=3, max_tokens=128, passages=6)
QUICK = Budget(sft_steps=3, dpo_steps=2, held_out=1, questions=2, max_tokens=32, passages=2)


# -- the isolated project: pipelines, registry, serving -----------------------------------


@dataclass
class Project:
    """An isolated state (STATE_DIR, warehouse, ZenML store) and the project's own CLIs run in it."""

    work: Path
    warehouse_uri: str
    log: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.work / "state"

    def env(self, **more: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _OUTSIDE_SETTINGS}
        env.update(
            STATE_DIR=str(self.state_dir),
            DATABASE_HOST=self.warehouse_uri,
            DATABASE_NAME="twin_voice",
            LLM_TWIN_ENV_FILE=str(self.work / "no.env"),
            ZENML_CONFIG_PATH=str(self.work / "zenml"),
            ZENML_ANALYTICS_OPT_IN="false",
            ZENML_AUTO_OPEN_DASHBOARD="false",
            HF_HUB_OFFLINE="1",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        env.update(more)
        return env

    def run(self, pipeline: str, *overrides: str) -> float:
        """``python -m tools.run PIPELINE --set ...`` in the isolated state; returns its seconds.

        Raises:
            click.ClickException: the run failed (the end of its output is in the message).
        """
        command = [sys.executable, "-m", "tools.run", pipeline]
        for override in overrides:
            command += ["--set", override]
        click.echo(f"  $ {' '.join(command[2:])}", err=True)
        started = time.perf_counter()
        with self.log.open("a", encoding="utf-8") as log:
            log.write(f"\n$ {' '.join(command)}\n")
            log.flush()
            done = subprocess.run(
                command, cwd=PROJECT_ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, check=False
            )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            tail = self.log.read_text(encoding="utf-8").splitlines()[-25:]
            raise click.ClickException(
                f"{pipeline} failed after {seconds:.0f}s; its output:\n" + "\n".join(tail)
            )
        return seconds


_OUTSIDE_SETTINGS = {
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "QDRANT_URL",
    "HUGGINGFACE_ACCESS_TOKEN",
    "TWIN_MODEL",
}
"""Settings of the machine the bench must not inherit: it runs offline on its own embedded stores."""


def versions_of(models_dir: Path) -> dict[str, object]:
    """Per author: the newest trained (non-base) registry version; ``"base"``: the base model's."""
    from llm_engineering.model.registry import ModelRegistry

    registry = ModelRegistry(models_dir)
    found: dict[str, object] = {}
    for version in registry.versions():  # newest first
        key = "base" if version.stage == "base" else version.author
        if key and key not in found:
            found[key] = version
    return found


def register_base_as(models_dir: Path, author: str) -> str:
    """A registry version of the base model's folder answering as ``author`` (the twin's prompt); its name."""
    from llm_engineering.model.registry import ModelRegistry

    registry = ModelRegistry(models_dir)
    base = versions_of(models_dir)["base"]
    name = "base-as-" + re.sub(r"[^a-z0-9]+", "-", author.lower()).strip("-")
    registry.register(base.model_copy(update={"name": name, "author": author}))
    return name


@contextmanager
def serving(project: Project, *, twin_model: str, timeout: float = 900) -> Iterator[str]:
    """``tools.serve`` on a free port serving ``twin_model`` as ``llm-twin``; yields its base URL."""
    import httpx

    from llm_engineering.infrastructure.local_services import free_port

    port = free_port()
    env = project.env(TWIN_MODEL=twin_model, TWIN_BACKEND="local", SERVING_API_KEY=API_KEY)
    with project.log.open("a", encoding="utf-8") as log:
        log.write(f"\n$ tools.serve --port {port} (TWIN_MODEL={twin_model})\n")
        log.flush()
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.serve", "--port", str(port), "--log-level", "warning"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise click.ClickException(f"tools.serve exited ({process.returncode}); see {project.log}")
            try:
                if httpx.get(f"{url}/ready", headers=_auth(), timeout=10).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise click.ClickException(f"tools.serve was not ready in {timeout:.0f}s; see {project.log}")
            time.sleep(1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


def ask(url: str, question: str, *, rag: bool, max_tokens: int) -> tuple[str, str]:
    """The served twin's whole answer to ``question`` (the API's own decoding) and its finish reason."""
    import httpx

    body = {
        "model": "llm-twin",
        "messages": [{"role": "user", "content": question}],
        "max_tokens": max_tokens,
        "rag": rag,
    }
    response = httpx.post(f"{url}/v1/chat/completions", json=body, headers=_auth(), timeout=600)
    if response.status_code != 200:
        raise click.ClickException(
            f"/v1/chat/completions answered {response.status_code}: {response.text[:300]}"
        )
    choice = response.json()["choices"][0]
    return choice["message"]["content"] or "", choice.get("finish_reason") or "length"


def perplexity(folder: Path, passages: Sequence[str], *, author: str) -> float:
    """Perplexity of ``passages`` under the model in ``folder``, prompted as ``author``'s twin."""
    from llm_engineering.domain.chat import build_messages, render_prompt
    from llm_engineering.model.evaluation.perplexity import reference_nll
    from llm_engineering.model.generation import load_causal_lm

    model, tokenizer = load_causal_lm(folder, dtype="float32")
    prompt = render_prompt(
        tokenizer, build_messages("Write a passage of one of your articles.", author=author)
    )
    result = reference_nll(
        model,
        tokenizer,
        prompts=[prompt] * len(passages),
        references=list(passages),
        max_reference_tokens=192,
    )
    return result.perplexity


# -- the run ------------------------------------------------------------------------------


def feature_overrides(authors: Sequence[str]) -> list[str]:
    """``--set`` values of the feature pipeline: both authors."""
    return [f"author_full_names=[{', '.join(authors)}]"]


def dataset_overrides(author: str, extra: Sequence[str] = ()) -> list[str]:
    """``--set`` values of both dataset pipelines: one author's documents, then ``extra``."""
    return [f"author_full_names=[{author}]", *extra]


def training_overrides(author: str, budget: Budget, extra: Sequence[str] = ()) -> list[str]:
    """``--set`` values of the training pipeline: the shipped defaults, this author, the step caps."""
    return [
        f"author={author}",
        f"sft.max_steps={budget.sft_steps}",
        f"dpo.max_steps={budget.dpo_steps}",
        *extra,
    ]


def _train_author(
    project: Project, author: str, budget: Budget, training_sets: Sequence[str], dataset_sets: Sequence[str]
) -> float:
    seconds = project.run("generate-instruct-datasets", *dataset_overrides(author, dataset_sets))
    seconds += project.run("generate-preference-datasets", *dataset_overrides(author, dataset_sets))
    return seconds + project.run("training", *training_overrides(author, budget, training_sets))


def run_bench(
    corpus: Path,
    work: Path,
    budget: Budget,
    training_sets: Sequence[str],
    split: str = "test",
    dataset_sets: Sequence[str] = (),
) -> int:
    """The whole bench in ``work``, asking about ``split``'s held-out articles; prints the tables and
    returns the number of failed checks."""
    from llm_engineering.domain.documents import ArticleDocument
    from llm_engineering.infrastructure.local_services import WarehouseServer, free_port
    from llm_engineering.infrastructure.warehouse import connect

    started = time.perf_counter()
    every = load_articles(corpus)
    articles, held = split_articles(every, per_author=budget.held_out, split=split)
    authors = sorted({a.author for a in articles})
    usable_ids = {a.id for a in articles}
    held_ids = {a.id for chosen in held.values() for a in chosen}
    excluded_ids = held_ids | {a.id for a in every if a.id not in usable_ids}
    click.echo(
        f"corpus {corpus}: {len(every)} articles of {', '.join(authors)}; split {split}"
        + (f" (the test split's {len(excluded_ids - held_ids)} left out too)" if split != "test" else "")
        + "; held out of everything:"
    )
    for author, chosen in held.items():
        for article in chosen:
            click.echo(f"  {author}: {article.title} ({len(article.text.split())} words)")
    server = WarehouseServer(data_dir=work / "warehouse", port=free_port())
    server.start()
    timings: dict[str, float] = {}
    try:
        project = Project(work=work, warehouse_uri=server.uri, log=work / "bench.log")
        with connect(server.uri, "twin_voice") as warehouse:
            from llm_engineering.infrastructure.warehouse_json import read_documents

            for document_type, documents in read_documents(corpus).items():
                keep = [
                    d
                    for d in documents
                    if not (document_type is ArticleDocument and str(d.id) in excluded_ids)
                ]
                warehouse.bulk_insert(keep)
        click.echo(f"work folder {work} (log: {project.log})")
        timings["features"] = project.run("feature-engineering", *feature_overrides(authors))
        for author in authors:
            timings[f"datasets + training, {author}"] = _train_author(
                project, author, budget, training_sets, dataset_sets
            )
        versions = versions_of(project.state_dir / "models")
        missing = [a for a in authors if a not in versions]
        if missing or "base" not in versions:
            raise click.ClickException(
                f"the registry has no trained version of {missing or 'the base model'}"
            )
        rows: list[Row] = []
        questions = {
            author: [q for a in chosen for q in questions_for_article(a, n=budget.questions, authors=authors)]
            for author, chosen in held.items()
        }
        ask_started = time.perf_counter()
        for author in authors:
            for model, name in (("twin", versions[author].name), ("base", None)):
                name = name or register_base_as(project.state_dir / "models", author)
                with serving(project, twin_model=name) as url:
                    for arm in ("served", "bare"):
                        row = Row(model, author, arm)
                        for question in questions[author]:
                            answer, reason = ask(
                                url, question, rag=arm == "served", max_tokens=budget.max_tokens
                            )
                            row.answers.append(answer)
                            row.finish_reasons.append(reason)
                        rows.append(row)
                click.echo(f"  asked {name}: {2 * len(questions[author])} answers", err=True)
        timings["answers through the API"] = time.perf_counter() - ask_started
    finally:
        server.stop()
    (work / "answers.json").write_text(
        json.dumps({"questions": questions, "rows": [r.__dict__ for r in rows]}, indent=1), encoding="utf-8"
    )
    return score_and_report(work, budget, articles, held, rows, versions, timings, started)


def score_and_report(
    work: Path,
    budget: Budget,
    articles: Sequence[Article],
    held: dict[str, list[Article]],
    rows: list[Row],
    versions: dict,
    timings: dict[str, float],
    started: float,
) -> int:
    """Score the answers, measure the held-out perplexities, print the tables and the checks; returns
    the number of failed checks."""
    authors = sorted(held)
    held_ids = {a.id for chosen in held.values() for a in chosen}
    training_texts = {
        author: [a.text for a in articles if a.author == author and a.id not in held_ids]
        for author in authors
    }
    held_passages = {
        author: [p for a in chosen for p in held_out_passages(a.text, limit=budget.passages)]
        for author, chosen in held.items()
    }
    classifiers = author_classifiers(training_texts)
    score_rows(rows, classifiers=classifiers)
    accuracy = classifier_accuracy(classifiers, held_passages)
    ppl_started = time.perf_counter()
    base_folder = Path(versions["base"].folder)
    ratios: dict[str, dict[str, float]] = {}
    for author in authors:
        twin_folder = Path(versions[author].folder)
        ratios[author] = {
            text_author: perplexity(twin_folder, passages, author=author)
            / perplexity(base_folder, passages, author=author)
            for text_author, passages in held_passages.items()
        }
    timings["perplexity"] = time.perf_counter() - ppl_started
    click.echo(
        f"\ntwin-voice bench: {budget.held_out} held-out articles per author, {budget.questions} questions each, "
        f"SFT {budget.sft_steps} / DPO {budget.dpo_steps} steps, answers of <= {budget.max_tokens} tokens"
    )
    click.echo(format_rows(rows))
    click.echo(
        "classifier accuracy on held-out passages: " + ", ".join(f"{a} {v:.2f}" for a, v in accuracy.items())
    )
    click.echo("\nheld-out articles' perplexity, twin / base (prompted as the twin's author):")
    click.echo(format_ratios(ratios))
    results = checks(rows, ratios)
    click.echo("\nchecks:")
    for text, passed in results:
        click.echo(f"  {'PASS' if passed else 'FAIL'}  {text}")
    click.echo(
        "\ntimes: "
        + ", ".join(f"{k} {v / 60:.1f} min" for k, v in timings.items())
        + f"; total {(time.perf_counter() - started) / 60:.1f} min (answers: {work / 'answers.json'})"
    )
    return sum(not passed for _, passed in results)


def rescore_run(corpus: Path, work: Path, budget: Budget, split: str = "test") -> int:
    """:func:`score_and_report` on the answers and registry an earlier run left in ``work``.

    Raises:
        click.ClickException: ``work`` holds no answers.json or no trained versions.
    """
    saved = work / "answers.json"
    if not saved.is_file():
        raise click.ClickException(f"no answers of an earlier run at {saved}")
    rows = [Row(**row) for row in json.loads(saved.read_text(encoding="utf-8"))["rows"]]
    articles, held = split_articles(load_articles(corpus), per_author=budget.held_out, split=split)
    versions = versions_of(work / "state" / "models")
    if "base" not in versions or any(a not in versions for a in held):
        raise click.ClickException(f"the registry in {work / 'state' / 'models'} lacks a trained version")
    click.echo(f"rescoring {sum(len(r.answers) for r in rows)} answers of the run in {work}")
    return score_and_report(work, budget, articles, held, rows, versions, {}, time.perf_counter())


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--quick",
    is_flag=True,
    help=f"Smoke run: {QUICK.sft_steps} SFT / {QUICK.dpo_steps} DPO steps, one article per author.",
)
@click.option("--corpus", type=click.Path(file_okay=False, path_type=Path), default=CORPUS, show_default=True)
@click.option(
    "--work",
    type=click.Path(file_okay=False, path_type=Path),
    help="Work folder (default: a temporary one, removed).",
)
@click.option(
    "--training-set",
    "training_sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Another training override (e.g. a stage's max_steps).",
)
@click.option(
    "--dataset-set",
    "dataset_sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Another override of both dataset pipelines (e.g. context.oracle_share).",
)
@click.option(
    "--split",
    type=click.Choice(SPLITS),
    default="test",
    show_default=True,
    help="Held-out articles asked about: dev to choose settings on (the test articles are then left out "
    "of everything too), test to report.",
)
@click.option("--strict", is_flag=True, help="Exit 1 when a check fails.")
@click.option(
    "--rescore",
    is_flag=True,
    help="Score the answers and the twins of an earlier run in --work again (no training, no asking).",
)
def main(
    quick: bool,
    corpus: Path,
    work: Path | None,
    training_sets: tuple[str, ...],
    dataset_sets: tuple[str, ...],
    split: str,
    strict: bool,
    rescore: bool,
) -> None:
    """Train a twin per handbook author and check, through the served API, that it writes like its author."""
    if not (corpus / "ArticleDocument.json").is_file():
        raise click.ClickException(
            f"no handbook corpus at {corpus} (ArticleDocument.json, UserDocument.json)"
        )
    budget = QUICK if quick else FULL
    if rescore:
        if work is None:
            raise click.BadParameter(
                "--rescore needs the --work folder of an earlier run", param_hint="--rescore"
            )
        failed = rescore_run(corpus, work.resolve(), budget, split)
    elif work is not None:
        work.mkdir(parents=True, exist_ok=True)
        failed = run_bench(corpus, work.resolve(), budget, training_sets, split, dataset_sets)
    else:
        with tempfile.TemporaryDirectory(prefix="llm-twin-voice-") as tmp:
            failed = run_bench(corpus, Path(tmp), budget, training_sets, split, dataset_sets)
    if strict and failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
