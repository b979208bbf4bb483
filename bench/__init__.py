"""Benchmarks: ipbus against a raw nats-py JetStream baseline, side by side in one run.

Out of the default test run; ``ipbus bench`` / ``make bench`` run them.
"""
