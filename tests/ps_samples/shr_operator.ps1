# expect 2: operator -shr
$half = 256 -shr 1
