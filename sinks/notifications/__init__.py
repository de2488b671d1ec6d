"""Alert notifications for managers: routing, grouping, throttling, digests, delivery over channels."""
