# expect 2: type [ordered]
$h = [ordered]@{ a = 1 }
