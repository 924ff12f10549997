"""Pipeline: warehouse documents -> cleaned documents -> embedded chunks in the vector store."""

from zenml import pipeline

from llm_engineering.configs.features import FeatureEngineeringConfig
from steps.feature_engineering.chunk_and_embed import chunk_and_embed
from steps.feature_engineering.clean_documents import clean_documents
from steps.feature_engineering.load_cleaned import load_cleaned
from steps.feature_engineering.load_embedded import load_embedded
from steps.feature_engineering.query_data_warehouse import query_data_warehouse


@pipeline
def feature_engineering(config: FeatureEngineeringConfig, after: list[str] | None = None) -> str:
    """Clean, chunk and embed the chosen authors' documents, touching only what changed.

    Args:
        config: the validated feature config (authors, chunking per category, batch sizes).
        after: invocation ids of steps that must finish first (when chained by end_to_end_data).

    Returns:
        The invocation id of the last step, so a chaining pipeline can run ``after`` it.
    """
    documents = query_data_warehouse(author_full_names=config.author_full_names, after=after)
    cleaning_result = clean_documents(documents=documents, cleaning=config.cleaning)
    cleaned_load_report = load_cleaned(cleaning_result=cleaning_result, loading=config.loading)
    embedding_result = chunk_and_embed(
        cleaned_load_report=cleaned_load_report, chunking=config.chunking, embedding=config.embedding
    )
    embedded_load_report = load_embedded(embedding_result=embedding_result, loading=config.loading)
    return embedded_load_report.invocation_id
