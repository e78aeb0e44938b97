"""Outbound webhooks: any system subscribes to channelhub's events, signed per Standard
Webhooks, delivered at least once with retries, one endpoint never holding up another."""
