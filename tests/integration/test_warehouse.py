"""The warehouse ODM against a real nx-27017 server through pymongo."""

from concurrent.futures import ThreadPoolExecutor

from llm_engineering.domain.documents import ArticleDocument, RepositoryDocument, UserDocument


def _article(user: UserDocument, link: str, text: str = "body") -> ArticleDocument:
    return ArticleDocument(
        content={"Title": "t", "Content": text},
        platform="example.com",
        author_id=user.id,
        author_full_name=user.full_name,
        link=link,
    )


def test_get_or_create_returns_the_same_user(warehouse):
    first, created = warehouse.get_or_create(UserDocument, first_name="Ada", last_name="Lovelace")
    again, created_again = warehouse.get_or_create(UserDocument, first_name="Ada", last_name="Lovelace")
    assert created and not created_again
    assert again.id == first.id
    assert warehouse.count(UserDocument) == 1


def test_get_or_create_is_safe_under_concurrent_callers(warehouse):
    with ThreadPoolExecutor(8) as pool:
        users = list(
            pool.map(
                lambda _: warehouse.get_or_create(UserDocument, first_name="Grace", last_name="Hopper")[0],
                range(16),
            )
        )
    assert len({user.id for user in users}) == 1
    assert warehouse.count(UserDocument) == 1


def test_unique_link_index_refuses_a_second_document_for_a_link(warehouse):
    user, _ = warehouse.get_or_create(UserDocument, first_name="Ada", last_name="Lovelace")
    assert warehouse.save(_article(user, "https://a.example/1"))
    assert not warehouse.save(_article(user, "https://a.example/1", "other"))
    assert warehouse.count(ArticleDocument) == 1


def test_bulk_insert_skips_stored_documents_and_keeps_the_rest(warehouse):
    user, _ = warehouse.get_or_create(UserDocument, first_name="Ada", last_name="Lovelace")
    docs = [_article(user, f"https://a.example/{i}") for i in range(5)]
    assert warehouse.bulk_insert(docs[:2]) == 2
    assert warehouse.bulk_insert(docs) == 3
    assert warehouse.bulk_insert(docs) == 0
    assert warehouse.count(ArticleDocument) == 5


def test_round_trip_keeps_string_ids_and_content(warehouse):
    user, _ = warehouse.get_or_create(UserDocument, first_name="Ada", last_name="Lovelace")
    repo = RepositoryDocument(
        name="engine",
        content={"src/a.py": "def f():\n    return 1\n", "README.md": "  indented\n"},
        platform="github",
        author_id=user.id,
        author_full_name=user.full_name,
        link="https://github.com/ada/engine",
    )
    warehouse.save(repo)
    loaded = warehouse.find_one(RepositoryDocument, link=repo.link)
    assert loaded == repo
    assert isinstance(loaded.id, str)
    assert warehouse.stored_links([repo.link, "https://nope"]) == {repo.link}
    assert warehouse.user_by_full_name("Ada Lovelace").id == user.id


def test_a_one_word_name_is_stored_once_without_doubling(warehouse):
    first_name, last_name = UserDocument.split_full_name("  Madonna ")
    assert (first_name, last_name) == ("Madonna", "")
    madonna, created = warehouse.get_or_create(UserDocument, first_name=first_name, last_name=last_name)
    again, created_again = warehouse.get_or_create(UserDocument, first_name="Madonna", last_name="")
    assert created and not created_again and again.id == madonna.id
    stored = warehouse.find_one(UserDocument, _id=madonna.id)
    assert stored.full_name == "Madonna" and stored.last_name == ""
    assert warehouse.user_by_full_name("Madonna").id == madonna.id
    # The unique index on (first_name, last_name) still tells one-word and two-word names apart.
    ciccone, _ = warehouse.get_or_create(UserDocument, first_name="Madonna", last_name="Ciccone")
    assert ciccone.id != madonna.id and ciccone.full_name == "Madonna Ciccone"
    assert not warehouse.save(UserDocument(first_name="Madonna", last_name=""))
    assert warehouse.count(UserDocument) == 2
    assert UserDocument.split_full_name("Mary Ann  Evans") == ("Mary Ann", "Evans")
