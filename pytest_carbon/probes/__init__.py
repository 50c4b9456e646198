"""Energy probes: the interface (``base``), the counters (RAPL, NVML), the power model, and choosing among them (``select``)."""
