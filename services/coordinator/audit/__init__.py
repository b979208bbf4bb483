"""The hash-chained audit log: the chain (pure), its table, what is written on each accepted,
refused or answered message, the signed anchors, and the check of the kept signatures."""
