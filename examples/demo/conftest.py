"""The demo suite needs no fixtures; this file keeps it a rootdir of its own."""
