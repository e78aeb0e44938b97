"""GraphQL types: renderings of the process layer's Pydantic results, field for field
(descriptions included), so GraphQL answers what REST answers."""
