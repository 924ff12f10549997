"""The embedded local services: the nx-27017 warehouse server and the ZenML dashboard.

Each service runs as a background process whose pid lives in the state folder, so
``up`` twice is harmless, ``down`` stops only what ``up`` started, and a port taken by
something else gives a clear message instead of a second server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class ServiceError(RuntimeError):
    """A local service could not be started or stopped; the message says why and what to do."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    address: str
    pid: int | None = None
    detail: str = ""

    def line(self) -> str:
        state = "stopped"
        if self.running:
            state = f"running (pid {self.pid})" if self.pid else "running"
        extra = f" - {self.detail}" if self.detail else ""
        return f"{self.name:<10} {state:<22} {self.address}{extra}"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if process is not None and process.poll() is not None:
            raise ServiceError(
                f"the server exited with code {process.returncode} before listening on {host}:{port}"
            )
        time.sleep(0.1)
    raise ServiceError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _command_line(pid: int) -> list[str] | None:
    """The arguments process ``pid`` was started with, or None when they cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        if Path("/proc/self/cmdline").exists():
            return None  # a /proc system without this pid: the process is gone
        result = subprocess.run(  # no /proc (macOS): ask ps
            ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
        )
        return result.stdout.split() or None
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _read_pid(pid_file: Path, *, is_ours: Callable[[list[str]], bool]) -> int | None:
    """The pid in ``pid_file`` if that process is alive and ``is_ours`` accepts its command line.

    A pid file outlives a reboot or a crash, and its number may since belong to a stranger
    process: such a pid is never reported, and so never signalled.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if not _pid_alive(pid):
        return None
    command = _command_line(pid)
    return pid if command is not None and is_ours(command) else None


def _stop_pid(pid: int | None, pid_file: Path, *, timeout: float) -> bool:
    """SIGTERM ``pid`` (SIGKILL after ``timeout``) and remove its pid file; whether it was running."""
    pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


def _nx27017_executable() -> str:
    local = Path(sys.executable).with_name("nx-27017")
    if local.exists():
        return str(local)
    found = shutil.which("nx-27017")
    if found is None:
        raise ServiceError("nx-27017 is not installed; run `pip install -e .` in the project's venv")
    return found


class _PidFileProcess:
    """A background process of ours, known by its pid file and its command line (never a stranger's pid)."""

    host: str
    port: int

    @property
    def pid_file(self) -> Path:
        raise NotImplementedError

    @property
    def log_file(self) -> Path:
        raise NotImplementedError

    def is_our_command(self, command: list[str]) -> bool:
        raise NotImplementedError

    def _pid(self) -> int | None:
        return _read_pid(self.pid_file, is_ours=self.is_our_command)

    def _spawn(self, command: list[str], *, timeout: float, what: str) -> None:
        """Start ``command`` in its own session, output to the log, and wait until it listens."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        try:
            wait_for_port(self.host, self.port, timeout=timeout, process=process)
        except ServiceError as exc:
            self.stop()
            raise ServiceError(f"{what} did not start: {exc}; see {self.log_file}") from exc

    def stop(self, *, timeout: float = 10.0) -> bool:
        """Stop the process that :meth:`start` ran; a pid file naming another process is removed, that
        process left alone. Returns whether ours was running."""
        return _stop_pid(self._pid(), self.pid_file, timeout=timeout)


@dataclass(frozen=True)
class WarehouseServer(_PidFileProcess):
    """The embedded MongoDB wire-protocol server (nx-27017) with its data under ``data_dir``."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 27017

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "nx-27017.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "nx-27017.log"

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}"

    def is_our_command(self, command: list[str]) -> bool:
        """Whether ``command`` is an nx-27017 server on this data folder (what :meth:`start` runs)."""
        runs_nx27017 = any(Path(part).name == "nx-27017" for part in command[:2])
        return runs_nx27017 and "--data-dir" in command and str(self.data_dir) in command

    def status(self) -> ServiceStatus:
        pid = self._pid()
        listening = port_open(self.host, self.port)
        detail = ""
        if listening and pid is None:
            detail = "port taken by another process"
        return ServiceStatus("warehouse", pid is not None and listening, self.uri, pid, detail)

    def start(self, *, timeout: float = 20.0) -> ServiceStatus:
        """Start the server unless ours already runs; refuse a port taken by another process."""
        current = self.status()
        if current.running:
            return current
        if port_open(self.host, self.port):
            raise ServiceError(
                f"port {self.port} on {self.host} is taken by another process (not the LLM Twin warehouse); "
                "stop it, or point DATABASE_HOST at it if it is a MongoDB you want to use"
            )
        command = [
            _nx27017_executable(),
            "--data-dir",
            str(self.data_dir),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--log-file",
            str(self.log_file),
            "--pid-file",
            str(self.data_dir / "nx-27017.daemon.pid"),
        ]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._spawn(command, timeout=timeout, what="nx-27017")
        return self.status()


def _zenml_executable() -> str:
    local = Path(sys.executable).with_name("zenml")
    return str(local) if local.exists() else (shutil.which("zenml") or "zenml")


@dataclass(frozen=True)
class ZenMLServer:
    """The local ZenML server (dashboard), run by ZenML's own ``zenml login --local`` daemon."""

    host: str = "127.0.0.1"
    port: int = 8237

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _is_zenml(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/info", timeout=2) as response:
                return b"version" in response.read()
        except OSError:
            return False

    def status(self) -> ServiceStatus:
        listening = port_open(self.host, self.port)
        ours = listening and self._is_zenml()
        detail = "port taken by another process" if listening and not ours else ""
        return ServiceStatus("zenml", ours, self.url, None, detail)

    def _zenml(self, *args: str, timeout: float) -> subprocess.CompletedProcess:
        env = {**os.environ, "ZENML_AUTO_OPEN_DASHBOARD": "false", "ZENML_ANALYTICS_OPT_IN": "false"}
        return subprocess.run(
            [_zenml_executable(), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *, timeout: float = 180.0) -> ServiceStatus:
        """Start the dashboard and connect the ZenML client to it (no browser is opened)."""
        if port_open(self.host, self.port) and not self._is_zenml():
            raise ServiceError(
                f"port {self.port} on {self.host} is taken by another process (not a ZenML server); "
                "stop it or set ZENML_SERVER_PORT to a free port"
            )
        result = self._zenml(
            "login", "--local", "--port", str(self.port), "--ip-address", self.host, timeout=timeout
        )
        if result.returncode != 0:
            raise ServiceError(f"`zenml login --local` failed:\n{(result.stderr or result.stdout).strip()}")
        return self.status()

    def stop(self, *, timeout: float = 60.0) -> bool:
        """Shut the local dashboard down and disconnect the client from it."""
        was_running = self.status().running
        self._zenml("logout", "--local", timeout=timeout)
        return was_running


@dataclass(frozen=True)
class ApiServer(_PidFileProcess):
    """The inference service run in the background, its pid and log in ``state_dir``.

    Used by ``poe demo`` and ``local-infrastructure-up --api``; ``poe serve`` runs it in the foreground.

    Attributes:
        state_dir: where the pid and log files go.
        command: the service's command line, to which ``--host`` and ``--port`` are added
            (``tools/commands.py``'s ``serve_command()``).
    """

    state_dir: Path
    command: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "api.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "api.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def is_our_command(self, command: list[str]) -> bool:
        """Whether ``command`` is the service's command on this port (what :meth:`start` runs)."""
        return all(part in command for part in self.command[1:]) and str(self.port) in command

    def _ready(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.url}/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def status(self) -> ServiceStatus:
        pid = self._pid()
        listening = port_open(self.host, self.port)
        detail = "port taken by another process" if listening and pid is None else ""
        if pid is not None and listening and not self._ready():
            detail = "starting (not ready yet)"
        return ServiceStatus("api", pid is not None and listening, self.url, pid, detail)

    def start(self, *, timeout: float = 300.0) -> ServiceStatus:
        """Start the service unless ours already runs, and wait until it answers ``/ready``."""
        if self._pid() is None:
            if port_open(self.host, self.port):
                raise ServiceError(
                    f"port {self.port} on {self.host} is taken by another process (not the LLM Twin API); "
                    "stop it or set SERVING_PORT to a free port"
                )
            command = [*self.command, "--host", self.host, "--port", str(self.port)]
            self._spawn(command, timeout=timeout, what="the API")
        deadline = time.monotonic() + timeout
        while not self._ready():
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"the API at {self.url} is not ready after {timeout:.0f}s; see {self.log_file}"
                )
            time.sleep(0.5)
        return self.status()
