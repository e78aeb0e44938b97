"""Tenant-scoped queries of template overrides and consents."""

from __future__ import annotations

from channelhub.platform.db.repository import TenantRepository
from channelhub.process.notifications.models import NotificationConsent, NotificationTemplate


class TemplateRepository(TenantRepository[NotificationTemplate]):
    model = NotificationTemplate


class ConsentRepository(TenantRepository[NotificationConsent]):
    model = NotificationConsent
