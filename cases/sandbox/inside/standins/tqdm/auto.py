"""Stand-in for a tqdm front end: the same as tqdm's."""

from tqdm import tqdm, trange  # noqa: F401
