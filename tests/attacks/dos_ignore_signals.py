# ruff: noqa
"""denial of service: ignores every signal it can and spins forever in forward."""
import signal
from _tools import HonestRelu

for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
    signal.signal(s, signal.SIG_IGN)


class Relu(HonestRelu):
    def forward(self, x):
        while True:
            pass
