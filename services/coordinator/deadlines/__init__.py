"""Referral deadlines: the rules that open and move them (pure), their table, extensions and
clock stops, the follow-up of a referral step, the watcher that declares them overdue, and
the ``referrals`` query."""
