"""Pipeline: the whole chain, from a person's links to an evaluated, promoted twin."""

from zenml import pipeline

from llm_engineering.configs.end_to_end import EndToEndConfig
from pipelines.digital_data_etl import digital_data_etl
from pipelines.evaluating import evaluating
from pipelines.feature_engineering import feature_engineering
from pipelines.generate_datasets import generate_datasets
from pipelines.training import training


@pipeline
def end_to_end(config: EndToEndConfig) -> None:
    """ETL -> features -> instruction and preference datasets -> SFT -> (self-play) -> DPO ->
    evaluation -> promotion, in one run.

    Each stage is its own pipeline, chained with ``after=`` so it starts once the one before has
    finished; the checks that need earlier stages' output (a dataset to train on, a model version
    to evaluate) run in each stage's first step instead of before the run.

    Args:
        config: the stage configs, validated as one.
    """
    crawled = [digital_data_etl(config=etl) for etl in config.etl]
    features = feature_engineering(config=config.feature_engineering, after=crawled)
    instruct = generate_datasets(config=config.instruct_datasets, after=[features])
    preference = generate_datasets(config=config.preference_datasets, after=[features])
    trained = training(config=config.training, after=[instruct, preference])
    evaluating(config=config.evaluating, after=[trained])
