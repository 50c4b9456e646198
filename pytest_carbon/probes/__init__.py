"""Energy probes: the interface (``base``), RAPL and NVML counters, the power model, the choice (``select``)."""
