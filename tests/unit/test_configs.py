"""Config loading: defaults < YAML < --set, and unknown keys or bad values fail naming the key."""

import pytest

from llm_engineering.configs import load_config, parse_overrides
from llm_engineering.configs.etl import DigitalDataEtlConfig
from llm_engineering.domain.exceptions import ConfigError


def _write(tmp_path, text):
    path = tmp_path / "etl.yaml"
    path.write_text(text)
    return path


def test_yaml_values_override_defaults_and_set_overrides_yaml(tmp_path):
    path = _write(
        tmp_path, "user_full_name: Ada Lovelace\nlinks: [https://a.example/x]\ncrawl:\n  retries: 5\n"
    )
    config = load_config(DigitalDataEtlConfig, path, ["crawl.retries=1", "crawl.max_workers=2"])
    assert config.crawl.retries == 1
    assert config.crawl.max_workers == 2
    assert config.crawl.timeout_seconds == 30.0  # untouched default
    assert load_config(DigitalDataEtlConfig, path).crawl.retries == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user_full_name: A B\nlinks: [x]\nlinkz: [y]\n", "linkz: unknown key"),
        ("user_full_name: A B\nlinks: [x]\ncrawl:\n  retry: 3\n", "crawl.retry: unknown key"),
        ("user_full_name: A B\nlinks: []\n", "links: List should have at least 1 item"),
        ("user_full_name: A B\nlinks: [x]\ncrawl:\n  failure_threshold: 2\n", "crawl.failure_threshold"),
        ("user_full_name: A B\nlinks: [x]\ncrawl:\n  max_workers: many\n", "crawl.max_workers"),
        ("links: [x]\n", "user_full_name: Field required"),
        ("- just\n- a list\n", "expected a mapping"),
        ("user_full_name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_configs_name_the_file_and_the_key(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(DigitalDataEtlConfig, path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(DigitalDataEtlConfig, tmp_path / "absent.yaml")


def test_overrides_parse_yaml_scalars_into_nested_keys():
    assert parse_overrides(["a.b=3", "c=true", "d=[1, 2]", "e=text"]) == {
        "a": {"b": 3},
        "c": True,
        "d": [1, 2],
        "e": "text",
    }
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_overrides(["novalue"])


def test_local_paths_become_absolute_file_uris_and_urls_stay(tmp_path, monkeypatch):
    (tmp_path / "post.md").write_text("# Hi\n")
    monkeypatch.chdir(tmp_path)
    config = DigitalDataEtlConfig(
        user_full_name="  Ada   Lovelace ", links=["post.md", "https://a.example/p"]
    )
    assert config.links == [(tmp_path / "post.md").as_uri(), "https://a.example/p"]
    assert config.user_full_name == "Ada Lovelace"


def test_max_browsers_stays_within_max_workers(tmp_path):
    path = _write(tmp_path, "user_full_name: Ada\nlinks: [https://a.example/x]\n")
    config = load_config(DigitalDataEtlConfig, path)
    assert (config.crawl.max_workers, config.crawl.max_browsers) == (4, 2)
    # Left at its default, the browser bound follows a smaller worker count...
    assert load_config(DigitalDataEtlConfig, path, ["crawl.max_workers=1"]).crawl.max_browsers == 1
    # ...but an explicit bound above it is a mistake worth naming.
    with pytest.raises(ConfigError, match=r"max_browsers \(3\) must not exceed max_workers \(2\)"):
        load_config(DigitalDataEtlConfig, path, ["crawl.max_workers=2", "crawl.max_browsers=3"])


@pytest.mark.parametrize("key", ["max_page_bytes", "max_file_bytes", "max_browsers"])
def test_size_caps_and_browser_bound_must_be_positive(tmp_path, key):
    path = _write(tmp_path, "user_full_name: Ada\nlinks: [https://a.example/x]\n")
    with pytest.raises(ConfigError, match=f"crawl.{key}"):
        load_config(DigitalDataEtlConfig, path, [f"crawl.{key}=0"])
