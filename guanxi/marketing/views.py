"""Marketing pages (thin: reads through fetch, writes through actions)."""
