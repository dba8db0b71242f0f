# ruff: noqa  (student code, kept as students write it)
"""Tampering: at import, tries to overwrite, truncate, rename and delete every file (and
folder) matching /tmp/layercheck-canary-*, as a student who wanted to overwrite the grader's
reference would; each refusal is caught so the file still loads. Its layers are correct."""
import glob
import os
import shutil

from good_im2col import *  # noqa: F403

for path in glob.glob("/tmp/layercheck-canary-*"):
    attempts = [
        lambda: open(path, "w").write("tampered"),
        lambda: open(path, "a").write("tampered"),
        lambda: os.truncate(path, 0),
        lambda: os.rename(path, path + ".moved"),
        lambda: os.remove(path),
        lambda: shutil.rmtree(path),
        lambda: os.symlink(path, "link") or open("link", "w").write("tampered"),
    ]
    for attempt in attempts:
        try:
            attempt()
        except OSError:
            pass

with open("scratch.txt", "w") as f:  # its own temporary folder: allowed
    f.write("fine")
