# expect 2: -ErrorAction Ignore
$k = Get-Item -Path 'HKLM:\SOFTWARE\X' -ErrorAction Ignore
