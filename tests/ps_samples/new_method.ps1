# expect 2: [Text.StringBuilder]::new() is PowerShell 5.0
$sb = [Text.StringBuilder]::new()
