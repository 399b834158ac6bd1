# expect 3: syntax: ERROR
$total = 1
$total = ($total + 2))
$done = $true
