"""People: users, roles, support groups, customers, API tokens and sign-in."""
