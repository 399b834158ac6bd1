# expect 3: operator -notin
$allowed = @('a', 'b')
if ('c' -notin $allowed) { 'no' }
