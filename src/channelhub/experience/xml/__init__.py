"""The XML Experience API (``/xml/v1/...``) for web and call-center systems.

Every answer is an XML rendering of the same process-layer result the REST API returns as
JSON: element names are the JSON field names, so ``code``, ``headline`` and ``next_step``
read the same in both. The schema is published as ``channelhub.xsd``.
"""
