# expect 2: operator -shl
$mask = 1 -shl 4
