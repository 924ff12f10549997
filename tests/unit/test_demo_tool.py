"""The demo's printed evaluation table: the newest results file, shown even when its schema moved on."""

from __future__ import annotations

import json
import os

from tools.demo import DEFAULT_QUESTION, NAMED_QUESTION, generic_table, latest_evaluation_table


def _write(folder, name: str, body: dict, mtime: float):
    path = folder / "evaluation" / name / "results.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(body), encoding="utf-8")
    os.utime(path, (mtime, mtime))


def test_a_results_file_the_report_cannot_read_is_shown_generically_and_the_newest_wins(tmp_path):
    old = {"versions": [{"name": "old", "scores": {"rouge_l": 0.1}}]}
    new = {
        "versions": [
            {"key": "base/served", "scores": {"style_distance": {"value": 0.3, "low": 0.2, "high": 0.4}}},
            {"key": "dpo-2/served", "scores": {"style_distance": 0.25, "loop_rate": 0.0, "note": "x"}},
        ],
        "production": "dpo-2",
    }
    # the folder names sort the other way round: the file's time decides which run is newest
    _write(tmp_path, "b-older", old, mtime=1_000)
    _write(tmp_path, "a-newer", new, mtime=2_000)
    table = latest_evaluation_table(tmp_path)
    lines = table.splitlines()
    assert lines[0].split() == ["version", "loop_rate", "style_distance"]
    assert lines[2].split() == ["base/served", "-", "0.300", "[0.200,", "0.400]"]
    assert lines[3].split() == ["dpo-2/served", "0.000", "0.250"]
    assert lines[-1] == "production: dpo-2" and "old" not in table


def test_no_evaluation_yet_is_no_table_and_an_empty_results_file_is_an_empty_one(tmp_path):
    assert latest_evaluation_table(tmp_path) is None
    assert generic_table({}).splitlines()[0] == "version"


def test_the_demo_questions_name_their_topic_and_the_second_one_names_theo():
    assert "RAG" in DEFAULT_QUESTION and DEFAULT_QUESTION.endswith("?")
    from llm_engineering.application.rag.self_query import find_author

    authors = ["Maya Lindqvist", "Theo Castellanos"]
    assert find_author(DEFAULT_QUESTION, authors) is None  # the twin's own author by default
    assert find_author(NAMED_QUESTION, authors) == "Theo Castellanos"


def test_the_served_version_is_read_from_ready():
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from tools.demo import served_version

    class Ready(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server name
            body = json.dumps(
                {"model": {"ready": True, "detail": "20261207-dpo loaded from /m/dpo"}}
            ).encode()
            ok = self.path == "/ready" and self.headers.get("Authorization") == "Bearer k"
            self.send_response(200 if ok else 401)
            self.end_headers()
            self.wfile.write(body if ok else b"{}")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert served_version(url, api_key="k") == "20261207-dpo"
        assert served_version(url, api_key="wrong") is None  # no detail: no name
    finally:
        server.shutdown()
