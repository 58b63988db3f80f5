"""Who may see and do what: the one access policy every query and endpoint uses."""
