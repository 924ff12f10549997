"""One APIRouter per resource; ``create_app`` includes them all."""

from llm_engineering.serving.routers import health, openai, page, pipelines, poe, rag, suggestions

__all__ = ["health", "openai", "page", "pipelines", "poe", "rag", "suggestions"]
