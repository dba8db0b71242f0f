"""What to try: the Case record, grids, seeded inputs, adapters and runners."""
