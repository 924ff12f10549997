"""Step: find the author in the warehouse, creating them on first use."""

from typing import Annotated

from zenml import log_metadata, step

from llm_engineering.domain.documents import UserDocument
from llm_engineering.infrastructure.warehouse import open_warehouse


@step(enable_cache=False)  # reads and writes the live warehouse: a cached answer would be stale
def get_or_create_user(user_full_name: str) -> Annotated[UserDocument, "user"]:
    """Get or create the user whose writing is crawled.

    Args:
        user_full_name: "First Last"; the last word is the last name, a one-word name has none.

    Returns:
        The stored user.
    """
    first_name, last_name = UserDocument.split_full_name(user_full_name)
    with open_warehouse() as warehouse:
        user, created = warehouse.get_or_create(UserDocument, first_name=first_name, last_name=last_name)
    summary = f"{'created' if created else 'found'} user {user.full_name} ({user.id})"
    log_metadata(
        metadata={"user_id": user.id, "full_name": user.full_name, "created": created, "summary": summary}
    )
    return user
