"""Windows facts: one PowerShell 2.0 probe, run locally or over WinRM, and its parser."""
