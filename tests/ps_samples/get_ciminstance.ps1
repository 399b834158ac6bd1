# expect 2: command Get-CimInstance
$os = Get-CimInstance -ClassName Win32_OperatingSystem
