"""Running the probe: per environment, adaptive repeats, the re-runs that prove causes, the result cache."""
