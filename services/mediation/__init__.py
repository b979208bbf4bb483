"""A mediation or arbitration centre: asks courts to confirm its mediation agreements."""
