"""The PyTorch oracle: float64 truth, error bounds, comparison and diagnosis."""
