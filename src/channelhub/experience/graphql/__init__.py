"""The GraphQL Experience API at ``/graphql``: orders, their customer status, stores and
availability for agents and systems (API keys), a shopper's own order (order token), and
the self-service mutations. Thin: it authenticates, translates and calls process services;
every answer is a rendering of a process-layer result."""
