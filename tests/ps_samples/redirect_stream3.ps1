# expect 2: PowerShell 3.0+ syntax
Get-Process 3>&1
