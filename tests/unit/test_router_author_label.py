"""The author label a queue shows: name and handle when both are given, else either, else the id."""

from services.router.store.rows import author_label
from shared.events import Author


def test_author_labels():
    assert author_label(Author(id="1", display_name="Jana K.", handle="@jana.k")) == (
        "Jana K. (@jana.k)"
    )
    assert author_label(Author(id="1", handle="jana")) == "@jana"
    assert author_label(Author(id="1", display_name="Jana", handle="Jana")) == "Jana"
    assert author_label(Author(id="x-123")) == "x-123"
