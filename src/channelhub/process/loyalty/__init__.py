"""Loyalty: programs, each member's append-only points ledger, tiers and rewards."""
