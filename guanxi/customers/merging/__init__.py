"""Identity resolution: `merge` (merging two customers, and undoing it), `strong` (automatic merges on
shared strong identifiers) and `suggestions` (pairs that weaker evidence links, for people to decide)."""
