# ruff: noqa  (student code, kept as students write it)
"""Right, with notebook leftovers at the top: IPython imports and calls (display-only)."""
import IPython
from IPython import get_ipython
from IPython.display import clear_output, display

from good_im2col import *  # noqa: F403

ip = get_ipython()
if ip is not None:
    ip.run_line_magic("matplotlib", "inline")
display("layers loaded")
clear_output(wait=True)
