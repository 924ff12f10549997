"""The embedded warehouse service: start twice is harmless, a taken port is refused clearly."""

import socket
import subprocess
import sys

import pytest

from llm_engineering.infrastructure.local_services import (
    ServiceError,
    WarehouseServer,
    ZenMLServer,
    free_port,
)
from llm_engineering.infrastructure.warehouse import connect
from tests.serving_fixtures import demo_state  # noqa: F401


def test_start_twice_is_harmless_and_stop_stops_it(tmp_path):
    server = WarehouseServer(data_dir=tmp_path / "wh", port=free_port())
    try:
        first = server.start()
        second = server.start()
        assert first.running and second.running
        assert first.pid == second.pid
        with connect(server.uri, "twin") as warehouse:
            assert warehouse.counts()["users"] == 0
    finally:
        assert server.stop()
    assert not server.status().running
    assert not server.stop()  # stopping again is harmless too


def test_data_survives_a_restart(tmp_path):
    server = WarehouseServer(data_dir=tmp_path / "wh", port=free_port())
    try:
        server.start()
        with connect(server.uri, "twin") as warehouse:
            warehouse.database["users"].insert_one({"_id": "u1", "first_name": "A", "last_name": "B"})
        server.stop()
        server.start()
        with connect(server.uri, "twin") as warehouse:
            assert warehouse.counts()["users"] == 1
    finally:
        server.stop()


def test_a_port_taken_by_another_process_gives_a_clear_message(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = WarehouseServer(data_dir=tmp_path / "wh", port=port)
        status = server.status()
        assert not status.running and "taken by another process" in status.detail
        with pytest.raises(ServiceError, match=f"port {port} on 127.0.0.1 is taken by another process"):
            server.start()


def test_connect_to_a_dead_address_names_the_fix():
    with pytest.raises(ConnectionError, match="poe local-infrastructure-up"):
        connect(f"mongodb://127.0.0.1:{free_port()}", "twin", timeout_ms=300)


def test_zenml_dashboard_starts_once_and_stops(tmp_path, monkeypatch):
    # The CLI runs in subprocesses; a config folder of its own keeps this test's server and
    # login away from the in-process ZenML store of the other tests.
    monkeypatch.setenv("ZENML_CONFIG_PATH", str(tmp_path / "zenml"))
    server = ZenMLServer(port=free_port())
    try:
        assert server.start().running
        assert server.start().running  # starting twice is harmless
        assert server.status().address == server.url
    finally:
        assert server.stop()
    assert not server.status().running


def test_zenml_dashboard_refuses_a_port_taken_by_another_process(tmp_path, monkeypatch):
    monkeypatch.setenv("ZENML_CONFIG_PATH", str(tmp_path / "zenml"))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(ServiceError, match="taken by another process"):
            ZenMLServer(port=port).start()


def test_a_stale_pid_file_never_signals_a_stranger_process(tmp_path):
    # A pid file left by a crash whose number now belongs to another process (here: ours).
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        server = WarehouseServer(data_dir=tmp_path / "wh", port=free_port())
        server.data_dir.mkdir(parents=True)
        server.pid_file.write_text(str(stranger.pid))
        assert server.status().pid is None and not server.status().running
        assert not server.stop()  # nothing of ours was running
        assert stranger.poll() is None  # the stranger lives on
        assert not server.pid_file.exists()  # the stale file is gone
        server.pid_file.write_text(str(stranger.pid))
        try:
            assert server.start().running  # a stale file does not stop a start either
            assert server.status().pid != stranger.pid
        finally:
            assert server.stop()
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_the_pid_check_knows_its_own_server_from_another_data_folder(tmp_path):
    server = WarehouseServer(data_dir=tmp_path / "wh", port=free_port())
    other = WarehouseServer(data_dir=tmp_path / "other", port=free_port())
    try:
        pid = server.start().pid
        other.data_dir.mkdir(parents=True)
        other.pid_file.write_text(str(pid))  # another folder's pid file naming our server
        assert not other.stop()
        assert server.status().running and server.status().pid == pid
    finally:
        server.stop()


def test_the_api_runs_in_the_background_until_stopped(demo_state, tmp_path, monkeypatch):  # noqa: F811
    from llm_engineering.infrastructure.local_services import ApiServer

    # The demo author's embedded chunks: /ready needs a readable store and a model (echo here).
    for name, value in {
        "STATE_DIR": str(demo_state.state_dir),
        "DATABASE_HOST": demo_state.database_host,
        "DATABASE_NAME": demo_state.database_name,
        "TWIN_BACKEND": "echo",
        "LLM_TWIN_ENV_FILE": str(tmp_path / "no.env"),
    }.items():
        monkeypatch.setenv(name, value)
    from tools.commands import serve_command

    server = ApiServer(state_dir=tmp_path / "serving", command=serve_command(), port=free_port())
    try:
        first = server.start(timeout=120)
        assert first.running and first.detail == ""
        assert server.start().pid == first.pid  # a second start leaves it alone
        import httpx

        reply = httpx.post(
            f"{server.url}/v1/chat/completions",
            json={"model": "echo", "messages": [{"role": "user", "content": "ping"}]},
            timeout=30,
        )
        assert reply.json()["choices"][0]["message"]["content"] == "ping"
    finally:
        assert server.stop()
    assert not server.status().running
    assert server.log_file.is_file()
