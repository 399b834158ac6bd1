# expect 3: operator -in
$allowed = @('a', 'b')
if ('a' -in $allowed) { 'yes' }
