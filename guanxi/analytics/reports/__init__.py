"""Store-level analyses for the Analytics page: read-only, computed from a scoped order queryset
(`orders`) or from the per-customer metrics store (`metrics`), returned as frozen dataclasses."""
