"""100 bad links among good ones: each bad one is recorded with its reason, every good one is stored."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from llm_engineering.domain.documents import ArticleDocument

pytestmark = pytest.mark.e2e


def test_a_hundred_bad_links_are_each_recorded_and_every_good_link_is_stored(
    project_env, site_server, tmp_path: Path
) -> None:
    from zenml.client import Client

    from tools.run import main

    warehouse = project_env
    notes = tmp_path / "notes"
    notes.mkdir()
    good = []
    for i in range(20):
        path = notes / f"note-{i}.md"
        path.write_text(f"# Note {i}\n\nThis is note number {i}, with enough words to be an article body.\n")
        good.append(path.as_uri())
    good += [site_server.url(f"/article.html?copy={i}") for i in range(10)]
    bad = {
        **{site_server.url(f"/status/404?i={i}"): "404" for i in range(30)},
        **{site_server.url(f"/status/500?i={i}"): "500" for i in range(10)},
        **{f"htp//broken-{i}": "malformed URL" for i in range(20)},
        **{f"ftp://files.example/{i}.txt": "unsupported scheme 'ftp'" for i in range(20)},
        **{(tmp_path / f"missing-{i}.md").as_uri(): "no such file" for i in range(20)},
    }
    assert len(bad) == 100
    links = [*bad, *good]
    random.Random(0).shuffle(links)  # good and bad links interleaved
    config = tmp_path / "etl.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "user_full_name": "Ada Lovelace",
                "links": links,
                "crawl": {"timeout_seconds": 5, "retries": 0, "failure_threshold": 0.9, "max_workers": 8},
            }
        )
    )

    result = CliRunner().invoke(main, ["digital-data-etl", "--config", str(config)], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "30 stored, 0 skipped, 100 failed" in result.output
    run = Client().get_pipeline(name_id_or_prefix="digital_data_etl").last_run
    metadata = Client().get_pipeline_run(run.id).steps["crawl_links"].run_metadata
    failures = metadata["failures"]
    assert set(failures) == set(bad)
    for link, reason in bad.items():
        assert reason in failures[link], (link, failures[link])
    assert sorted(doc.link for doc in warehouse.find(ArticleDocument)) == sorted(good)
