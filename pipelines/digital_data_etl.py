"""Pipeline: crawl a person's links into the document warehouse."""

from zenml import pipeline

from llm_engineering.configs.etl import DigitalDataEtlConfig
from steps.etl.crawl_links import crawl_links
from steps.etl.get_or_create_user import get_or_create_user


@pipeline
def digital_data_etl(config: DigitalDataEtlConfig) -> str:
    """Get or create the user, then crawl their links into the warehouse.

    Args:
        config: the validated ETL config (user, links, crawl settings).

    Returns:
        The invocation id of the last step, so a chaining pipeline can run ``after`` it.
    """
    user = get_or_create_user(user_full_name=config.user_full_name)
    crawled = crawl_links(user=user, links=config.links, crawl=config.crawl)
    return crawled.invocation_id
