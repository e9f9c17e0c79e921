"""Rule-change proposals with evidence (arrives with the proposer issue)."""
