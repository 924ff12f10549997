"""The digital_data_etl pipeline through `tools.run`, on a real ZenML store and nx-27017."""

from __future__ import annotations

import re
import sys
import uuid
from dataclasses import replace

import pytest
import yaml

from llm_engineering.configs.etl import DigitalDataEtlConfig
from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument, UserDocument
from tests.zenml_helpers import run_cli

pytestmark = pytest.mark.e2e


def _config(tmp_path, **data) -> str:
    path = tmp_path / "etl.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _last_run():
    from zenml.client import Client

    run = Client().get_pipeline(name_id_or_prefix="digital_data_etl").last_run
    return Client().get_pipeline_run(run.id)


def _step_metadata(step_name: str) -> dict:
    from zenml.client import Client

    run = Client().get_pipeline(name_id_or_prefix="digital_data_etl").last_run
    return Client().get_pipeline_run(run.id).steps[step_name].run_metadata


def test_etl_stores_good_links_records_bad_ones_and_a_rerun_adds_nothing(
    project_env, site_server, site_dir, git_repo, tmp_path
):
    warehouse = project_env
    good = [site_server.url("/article.html"), (site_dir / "notes.md").as_uri(), str(git_repo)]
    bad = [site_server.url("/status/404"), "htp//broken", "ftp://files.example/a.txt"]
    config = _config(
        tmp_path,
        user_full_name="Ada Lovelace",
        links=good + bad,
        crawl={"timeout_seconds": 5, "retries": 0, "failure_threshold": 0.6},
    )

    first = run_cli("digital-data-etl", "--config", config)
    assert first.exit_code == 0, first.output
    assert "crawled 6 links" in first.output and "3 stored, 0 skipped, 3 failed" in first.output
    metadata = _step_metadata("crawl_links")
    assert metadata["links"] == {"stored": 3, "skipped": 0, "failed": 3}
    assert "trigger:manual" in {tag.name for tag in _last_run().tags}  # tools.run tags who started it
    failures = metadata["failures"]
    assert "404" in failures[bad[0]]
    assert "malformed URL" in failures[bad[1]]
    assert "unsupported scheme 'ftp'" in failures[bad[2]]
    counts = warehouse.counts()
    assert (counts["users"], counts["articles"], counts["repositories"]) == (1, 2, 1)

    second = run_cli("digital-data-etl", "--config", config, "--no-cache")
    assert second.exit_code == 0, second.output
    assert "0 stored, 3 skipped, 3 failed" in second.output
    assert warehouse.counts() == counts
    assert warehouse.count(UserDocument) == 1
    links = [doc.link for doc in warehouse.find(ArticleDocument)] + [
        doc.link for doc in warehouse.find(RepositoryDocument)
    ]
    assert len(links) == len(set(links)) == 3


def test_a_run_fails_when_too_many_links_fail(project_env, site_server, tmp_path, monkeypatch):
    import steps.etl.crawl_links as step_module

    closed = []
    build = step_module.build_dispatcher

    def recording_build(*args, **kwargs):
        dispatcher = build(*args, **kwargs)
        close = dispatcher.close
        dispatcher.close = lambda: (closed.append(True), close())[1]
        return dispatcher

    monkeypatch.setattr(step_module, "build_dispatcher", recording_build)
    config = _config(
        tmp_path,
        user_full_name="Ada Lovelace",
        links=[
            site_server.url("/article.html"),
            site_server.url("/status/404"),
            site_server.url("/status/410"),
        ],
        crawl={"retries": 0, "failure_threshold": 0.5},
    )
    result = run_cli("digital-data-etl", "--config", config)
    assert result.exit_code == 1
    assert "run failed" in result.output
    assert (
        "crawl_links: crawled 3 links" in result.output and "1 stored, 0 skipped, 2 failed" in result.output
    )
    assert "HTTP 410" in _step_metadata("crawl_links")["failures"][site_server.url("/status/410")]
    assert project_env.count(ArticleDocument) == 1  # the good link is kept
    assert closed == [True]  # the failing step still closed its crawlers


def test_a_config_with_an_unknown_key_starts_no_run(project_env, tmp_path):
    from zenml.client import Client

    before = len(Client().list_pipeline_runs(size=100))
    config = _config(
        tmp_path, user_full_name="Ada Lovelace", links=["https://a.example"], crawl={"retrys": 1}
    )
    result = run_cli("digital-data-etl", "--config", config)
    assert result.exit_code == 2
    assert "crawl.retrys: unknown key" in result.output
    assert len(Client().list_pipeline_runs(size=100)) == before
    assert project_env.count(UserDocument) == 0


def test_the_shipped_demo_config_crawls_every_demo_file(project_env):
    result = run_cli("digital-data-etl", "--config", "configs/digital_data_etl_demo.yaml")
    assert result.exit_code == 0, result.output
    assert "13 stored, 0 skipped, 0 failed" in result.output
    maya = project_env.user_by_full_name("Maya Lindqvist")
    assert project_env.count(ArticleDocument, author_id=maya.id) == 9
    assert project_env.count(PostDocument, author_id=maya.id) == 4
    pdf = project_env.find_one(ArticleDocument, link={"$regex": r"\.pdf$"})
    assert pdf.content["Title"] == "A Checklist for Fine-Tuning"
    assert "Takeaway:" in pdf.content["Content"]


def _refusing_pipeline(name: str):
    """A pipeline named ``name`` whose own checks refuse the config before any step runs."""
    from zenml import pipeline

    def refuse(config: DigitalDataEtlConfig) -> None:
        raise ValueError(f"{len(config.links)} links:\n  none of them can be crawled")

    return pipeline(name=name)(refuse)


@pytest.mark.parametrize("registered", [False, True], ids=["unknown-to-zenml", "registered-without-runs"])
def test_a_run_refused_before_any_step_ends_with_one_clean_line(
    project_env, tmp_path, monkeypatch, registered
):
    import tools.run

    refusing = _refusing_pipeline(f"etl_refused_{uuid.uuid4().hex[:8]}")
    if registered:
        refusing.register()  # ZenML knows the pipeline, but it never ran
    monkeypatch.setattr(sys.modules[__name__], "refusing_etl", refusing, raising=False)
    entry = tools.run.PIPELINES["digital-data-etl"]
    monkeypatch.setitem(
        tools.run.PIPELINES, "digital-data-etl", replace(entry, pipeline=f"{__name__}:refusing_etl")
    )
    config = _config(tmp_path, user_full_name="Ada Lovelace", links=["https://a.example/x"])
    result = run_cli("digital-data-etl", "--config", config)
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert re.fullmatch(
        r"digital-data-etl: run failed after [\d.]+s: 1 links: none of them can be crawled", line
    ), line


def test_a_refused_run_does_not_show_an_earlier_runs_step_summaries(
    project_env, site_dir, tmp_path, monkeypatch
):
    import tools.run

    config = _config(tmp_path, user_full_name="Ada Lovelace", links=[(site_dir / "notes.md").as_uri()])
    assert run_cli("digital-data-etl", "--config", config).exit_code == 0  # a run with step summaries
    monkeypatch.setattr(
        sys.modules[__name__], "refusing_etl", _refusing_pipeline("digital_data_etl"), raising=False
    )
    entry = tools.run.PIPELINES["digital-data-etl"]
    monkeypatch.setitem(
        tools.run.PIPELINES, "digital-data-etl", replace(entry, pipeline=f"{__name__}:refusing_etl")
    )
    result = run_cli("digital-data-etl", "--config", config)
    assert result.exit_code == 1
    assert "crawl_links:" not in result.output and "get_or_create_user:" not in result.output
    assert result.output.strip().splitlines() == [result.output.strip()]
