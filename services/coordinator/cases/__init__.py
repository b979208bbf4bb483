"""Cases: the fold of every event into a shared case file (pure), the case files and their
timeline in the database, the party index that links cases, and the ``case`` query."""
