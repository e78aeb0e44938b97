"""The helpdesk's e-mail: inbound SMTP and IMAP, MIME parsing, replies."""
