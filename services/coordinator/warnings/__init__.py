"""Warnings addressed to the coordinator: who gets one and when a silent recipient is chased
(pure), their tables, and the desk that delivers, chases, retracts and answers ``warnings``."""
