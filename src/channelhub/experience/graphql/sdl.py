"""The schema in SDL, as committed in ``schema.graphql`` beside this module.

``python -m channelhub.experience.graphql.sdl`` rewrites the file after a deliberate change
to the schema; a test fails while the file and the code disagree.
"""

from __future__ import annotations

from pathlib import Path

from channelhub.experience.graphql.schema import schema

SDL_PATH = Path(__file__).with_name("schema.graphql")
REFRESH = "python -m channelhub.experience.graphql.sdl"


def printed() -> str:
    return schema.as_str() + "\n"


def main() -> None:
    SDL_PATH.write_text(printed(), encoding="utf-8")
    print(f"wrote {SDL_PATH}")  # noqa: T201 - a developer's command


if __name__ == "__main__":
    main()
