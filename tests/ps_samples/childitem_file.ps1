# expect 2: Get-ChildItem -File: parameter not in PowerShell 2.0
$files = @(Get-ChildItem -Path C:\Windows -File)
