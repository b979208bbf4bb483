"""Evidence on a case: what was attached (digest, size, object) and who checked it."""
