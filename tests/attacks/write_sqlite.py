# ruff: noqa
"""write: sqlite3 ATTACH creates a database file anywhere."""
import sqlite3
from _tools import report

HOST = {}
found = {}
for key in ("canary", "own_file"):
    try:
        con = sqlite3.connect(":memory:")
        con.execute(f"ATTACH DATABASE '{HOST[key]}' AS x")
        con.execute("CREATE TABLE x.t (a)")
        con.commit()
        found[key] = "written"
    except Exception as e:
        found[key] = type(e).__name__
report(**found)
