"""Every write of the sales app, by subject. Each function owns its transaction, checks what
`restrict()` cannot (who may give records to others, configure a unit, transfer across units),
writes the audit entry and notifies through `guanxi.sales.notifications.notify`."""
