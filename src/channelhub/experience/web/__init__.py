"""The self-service portal: server-rendered pages where shoppers find their order, follow
it, act on it after a store closed, start a return, and find a store.

Thin like every experience package: it reads cookies and forms, calls the same process
services as the REST self-service API, and renders their answers (``CustomerStatus``
above all) without re-deriving them.
"""
