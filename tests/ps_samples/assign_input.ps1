# expect 2: assigns the automatic variable $input
$input = 'x'
