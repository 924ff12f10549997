"""Pipeline: the data pipelines chained, ETL -> features -> instruction and preference datasets."""

from zenml import pipeline

from llm_engineering.configs.end_to_end import EndToEndDataConfig
from pipelines.digital_data_etl import digital_data_etl
from pipelines.feature_engineering import feature_engineering
from pipelines.generate_datasets import generate_datasets


@pipeline
def end_to_end_data(config: EndToEndDataConfig) -> None:
    """Crawl each person's links, build the features, then both datasets, in one run.

    Args:
        config: the ETL configs, the feature config and the two dataset configs.
    """
    crawled = [digital_data_etl(config=etl) for etl in config.etl]
    features = feature_engineering(config=config.feature_engineering, after=crawled)
    generate_datasets(config=config.instruct_datasets, after=[features])
    generate_datasets(config=config.preference_datasets, after=[features])
