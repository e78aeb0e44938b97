"""The helpdesk: one inbox across e-mail, chat and marketplaces, next to the truth."""
