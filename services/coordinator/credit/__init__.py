"""Credit supervision: listings on the serious-violation list, linked to every case naming
the company and routed as ``credit_listing`` warnings (rules pure, store, flow)."""
