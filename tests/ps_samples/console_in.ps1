# expect 2: static member [Console]::In
$payload = [Console]::In.ReadToEnd()
