"""Who is calling: the authenticated subject every process service receives first."""

from __future__ import annotations

from dataclasses import dataclass, replace

from channelhub.platform.auth.scopes import grants
from channelhub.platform.errors import ForbiddenError


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    key_id: str | None
    scopes: frozenset[str]
    name: str = "system"

    @property
    def actor(self) -> str:
        """What the audit trail records as having acted: the API key, or the named job."""
        return self.key_id or self.name

    def require(self, scope: str) -> None:
        if not grants(self.scopes, scope):
            raise ForbiddenError(f"this API key lacks the {scope!r} scope", required_scope=scope)

    def elevated(self) -> Principal:
        """The same caller with every scope, for the steps that an operation it is allowed
        to make takes in other contexts (creating an order reserves its stock). The audit
        trail still names the caller."""
        return replace(self, scopes=frozenset({"admin"}))

    @classmethod
    def system(cls, tenant_id: str, name: str = "system") -> Principal:
        """The hub itself acting for a tenant (CLI, consumers, jobs), under ``name``."""
        return cls(tenant_id=tenant_id, key_id=None, scopes=frozenset({"admin"}), name=name)
