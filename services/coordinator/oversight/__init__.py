"""Oversight of cases penalised but never transferred: the rules (pure) and the flow."""
