"""The Linux guest collector: one POSIX sh probe, parsed into namespaced facts."""
