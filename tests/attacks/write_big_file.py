# ruff: noqa
"""denial of service: fills the disk from its working folder and /tmp."""
from _tools import report

found = {}
for path in ("big.bin", "/tmp/big.bin"):
    try:
        with open(path, "wb") as f:
            for _ in range(512):
                f.write(b"0" * (1 << 20))
        found[path] = "written"
    except OSError as e:
        found[path] = type(e).__name__
report(**found)
