# expect 2: variable $using:server
$name = $using:server
