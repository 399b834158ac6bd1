# expect 3: .Where() is PowerShell 4.0
$list = New-Object Collections.ArrayList
$big = $list.Where({ $_ -gt 1 })
