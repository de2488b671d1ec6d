"""The archive and analytics store: ClickHouse, embedded (chdb) by default or a server/cluster.

Same DDL and SQL for both backends; only `client.py` knows which one runs.
"""
