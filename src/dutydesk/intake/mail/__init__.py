"""Email in: parsing, loop protection, ingest, the IMAP poller and the SMTP receiver."""
