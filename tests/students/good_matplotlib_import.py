# ruff: noqa  (student code, kept as students write it)
"""Right, with plotting at import time: matplotlib (an interactive backend asked for, a
figure saved and shown) and a tqdm progress bar; none of it may count against the student."""
import matplotlib

matplotlib.use("TkAgg")
import matplotlib.pyplot as plt
from tqdm import tqdm

from good_im2col import *  # noqa: F403

losses = [1.0 / (i + 1) for i in tqdm(range(5))]
fig, ax = plt.subplots()
ax.plot(losses)
plt.title("loss")
plt.savefig("loss.png")
plt.show()
