"""Functional (L1 → L2 → L3 → supplier) and hierarchic (management) escalation."""
