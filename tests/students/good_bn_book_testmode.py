# ruff: noqa  (student code, kept as students write it)
"""Good: the notes' BatchNormalization, whose backward reads what only a training forward
stores (centred input, deviation, batch size); after a test-mode forward those are still
None and backward would raise, which the check must not ask for."""

import numpy as np


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.running_mean = running_mean
        self.running_var = running_var
        self.shape = None
        self.n = None  # set by a training forward only
        self.xc = None
        self.std = None
        self.xhat = None
        self.dgamma = None
        self.dbeta = None

    def forward(self, x, train_flg=True):
        self.shape = x.shape
        x2 = x.reshape(x.shape[0], -1)
        if self.running_mean is None:
            self.running_mean = np.zeros(x2.shape[1])
            self.running_var = np.zeros(x2.shape[1])
        if train_flg:
            mean = x2.mean(axis=0)
            xc = x2 - mean
            var = (xc * xc).mean(axis=0)
            std = np.sqrt(var + 10e-7)
            self.n, self.xc, self.std, self.xhat = x2.shape[0], xc, std, xc / std
            m = self.momentum
            self.running_mean = m * self.running_mean + (1 - m) * mean
            self.running_var = m * self.running_var + (1 - m) * var
            xhat = self.xhat
        else:
            xhat = (x2 - self.running_mean) / np.sqrt(self.running_var + 10e-7)
        return (self.gamma * xhat + self.beta).reshape(self.shape)

    def backward(self, dout):
        d = dout.reshape(dout.shape[0], -1)
        self.dbeta = d.sum(axis=0)
        self.dgamma = (d * self.xhat).sum(axis=0)
        dxhat = d * self.gamma
        dxc = dxhat / self.std
        dstd = -((dxhat * self.xc) / (self.std * self.std)).sum(axis=0)
        dvar = 0.5 * dstd / self.std
        dxc = dxc + (2.0 / self.n) * self.xc * dvar
        dx = dxc - dxc.sum(axis=0) / self.n
        return dx.reshape(self.shape)
