# expect 4: syntax: MISSING
function Get-Broken {
    if ($true) { 'unclosed'
}
