"""The committed SDL is the schema the code serves."""

from __future__ import annotations

from channelhub.experience.graphql.sdl import REFRESH, SDL_PATH, printed


def test_the_committed_schema_matches_the_code() -> None:
    committed = SDL_PATH.read_text(encoding="utf-8")

    assert committed == printed(), (
        f"{SDL_PATH.name} is out of date with the GraphQL schema in the code; after checking "
        f"that the change is intended (clients rely on it), run: {REFRESH}"
    )
