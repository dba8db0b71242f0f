# ruff: noqa
"""denial of service: a thread bomb (threads stay allowed; their number does not)."""
import threading
import time
from _tools import report

started = 0
try:
    for _ in range(5000):
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        started += 1
except RuntimeError as e:
    report(started=started, error=str(e))
report(started=started)
