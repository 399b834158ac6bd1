# expect 2: command ConvertTo-Json
$json = @{ a = 1 } | ConvertTo-Json
