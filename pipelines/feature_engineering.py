"""Pipeline: warehouse documents -> cleaned documents -> embedded chunks in the vector store."""

from zenml import pipeline

from llm_engineering.configs.features import FeatureEngineeringConfig
from steps.feature_engineering.chunk_and_embed import chunk_and_embed
from steps.feature_engineering.clean_documents import clean_documents
from steps.feature_engineering.query_data_warehouse import query_data_warehouse


@pipeline
def feature_engineering(config: FeatureEngineeringConfig, after: list[str] | None = None) -> str:
    """Clean, chunk and embed the chosen authors' documents, touching only what changed.

    The steps hand on ids, hashes and counts; the documents and vectors go to the feature
    store, not the artifact store.

    Args:
        config: the validated feature config (authors, chunking per category, batch sizes,
            the mass-removal guard).
        after: invocation ids of steps that must finish first (when chained by end_to_end_data).

    Returns:
        The invocation id of the last step, so a chaining pipeline can run ``after`` it.
    """
    documents = query_data_warehouse(author_full_names=config.author_full_names, after=after)
    cleaning_report = clean_documents(
        documents=documents,
        cleaning=config.cleaning,
        loading=config.loading,
        mass_removal_threshold=config.mass_removal_threshold,
        allow_mass_removal=config.allow_mass_removal,
    )
    embedding_report = chunk_and_embed(
        cleaning_report=cleaning_report,
        chunking=config.chunking,
        embedding=config.embedding,
        loading=config.loading,
    )
    return embedding_report.invocation_id
