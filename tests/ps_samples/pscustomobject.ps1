# expect 2: type [pscustomobject]
$o = [pscustomobject]@{ name = 'x' }
